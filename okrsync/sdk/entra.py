"""Microsoft Entra ID sign-in, shared by every Microsoft source (Excel Online, Azure DevOps, Power BI,
Dataverse): the connection keys (:class:`EntraConnection`) and the auth a source declares in one line::

    auth = EntraAuth("https://graph.microsoft.com")       # the token's resource: scope <resource>/.default
    auth = EntraAuth(resource_from="url")                 # the resource is a connection key (Dataverse)
    auth = EntraAuth(ADO, fallback=Basic("user", "token"))  # Entra keys, else the connection's PAT

Two ways to sign in, both through msal (the Microsoft Authentication Library):

    login: client   the app's own identity (client credentials): client_secret (${ENV}) or certificate_file
                    (a PEM with the private key and the certificate, or a .pfx; certificate_password
                    opens an encrypted one: okrsync/sdk/entra_certificate.py).
                    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    login: device   a user's delegated sign-in, for APIs that refuse app-only tokens (Graph's Excel ranges):
                    ``okrsync login NAME`` runs the device-code flow once and keeps the refresh token in
                    ``token_cache`` (mode 0600, never in the store or logs); each run renews silently.
                    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code

Tokens live in memory per connection (one msal app each) and msal renews them before they expire (an
access token within 5 minutes of its end counts as expired). Refusals become plain messages that name the
connection and the fix (:func:`explain`; codes from
https://learn.microsoft.com/entra/identity-platform/reference-error-codes). Relative paths
(``certificate_file``, ``token_cache``) are read from the config's folder, like every other path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import requests
from pydantic import model_validator

from okrsync.config.env import resolve_env
from okrsync.redact import REDACTOR
from okrsync.sdk.auth import Auth, Credentials, FetchedBearer, setting
from okrsync.sdk.connector import RemoteConnection, WebUrl
from okrsync.sdk.entra_certificate import is_pkcs12, load_certificate, pem_problem
from okrsync.sdk.entra_errors import DEFAULT_AUTHORITY, SignIn, explain, not_signed_in, unreachable
from okrsync.sdk.http import install_log_redaction, secret

MULTI_TENANT = ("common", "organizations", "consumers")  # client credentials need the tenant (AADSTS9001023)


class EntraConnection(RemoteConnection):
    """The Entra ID keys every Microsoft connection shares (a connector's connection model subclasses it).

    ``entra_optional`` (a ClassVar): the connector also takes another credential (Azure DevOps: a PAT), so
    the Entra keys may be left out altogether; when any is given they must fit together."""

    entra_optional: ClassVar[bool] = False

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    certificate_file: str | None = None
    certificate_password: str | None = None
    login: Literal["client", "device"] = "client"
    token_cache: str | None = None
    authority: WebUrl = DEFAULT_AUTHORITY

    def uses_entra(self) -> bool:
        return not self.entra_optional or self.tenant_id is not None or self.client_id is not None

    @model_validator(mode="after")
    def _entra_keys_fit(self) -> Self:
        if self.uses_entra() and (problem := entra_key_problem(self)):
            raise ValueError(problem)
        return self

    def preflight(self, base_dir: Path) -> list[tuple[str, str]]:
        if not self.certificate_file or "${" in self.certificate_file:
            return []
        path = (base_dir / self.certificate_file).resolve()
        try:
            data = path.read_bytes()
        except OSError as exc:
            return [("certificate_file", f"cannot read {path}: {exc.strerror or type(exc).__name__}")]
        problem = None if is_pkcs12(path) else pem_problem(data.decode("utf-8", "replace"))
        return [("certificate_file", f"{path} {problem}")] if problem else []


def entra_key_problem(s: EntraConnection) -> str | None:
    """What is wrong with a connection's Entra keys, in the user's terms; None when they fit."""
    missing = [k for k in ("tenant_id", "client_id") if getattr(s, k) is None]
    if missing:
        return f"a Microsoft Entra ID connection needs {' and '.join(missing)} (the app registration's Overview)"
    if s.login == "device":
        if s.token_cache is None:
            return "login: device keeps the user's sign-in in a file: add token_cache: PATH"
        given = [k for k in ("client_secret", "certificate_file", "certificate_password") if getattr(s, k) is not None]
        return f"{given[0]} is not used with login: device (remove it)" if given else None
    if s.token_cache is not None:
        return "token_cache is only for login: device (remove it, or add login: device)"
    if s.certificate_password is not None and s.certificate_file is None:
        return "certificate_password opens a certificate_file: add certificate_file, or remove certificate_password"
    if (s.client_secret is None) == (s.certificate_file is None):
        return "set client_secret (a ${ENV} reference) or certificate_file (a PEM with the private key), one of them"
    if s.tenant_id.lower() in MULTI_TENANT:  # type: ignore[union-attr]  # None is reported above
        return f"tenant_id {s.tenant_id!r} is not a tenant: client credentials need the tenant's id or domain"
    return None


def sign_in(settings: EntraConnection, where: str, base_dir: Path) -> SignIn:
    """The sign-in of connection ``where`` (``connections.NAME``); a file that cannot be read is a SourceError."""
    name = where.removeprefix("connections.")
    tenant = resolve_env(str(settings.tenant_id), f"{where}.tenant_id")
    authority = resolve_env(settings.authority, f"{where}.authority").rstrip("/")
    credential: str | dict[str, str] | None = None
    thumbprint = cache = None
    if settings.client_secret is not None:
        credential = secret(settings.client_secret, f"{where}.client_secret")
    if settings.certificate_file is not None:
        path = base_dir / resolve_env(settings.certificate_file, f"{where}.certificate_file")
        password = None
        if settings.certificate_password is not None:
            password = secret(settings.certificate_password, f"{where}.certificate_password")
        credential, thumbprint = load_certificate(path, password, name)
    if settings.token_cache is not None:
        cache = (base_dir / resolve_env(settings.token_cache, f"{where}.token_cache")).resolve()
    return SignIn(
        name,
        f"{authority}/{tenant}",
        tenant,
        resolve_env(str(settings.client_id), f"{where}.client_id"),
        settings.login,
        credential,
        thumbprint,
        cache,
        settings.timeout,
    )


def http_session(sign: SignIn) -> requests.Session:
    """The HTTP client msal uses. requests lets REQUESTS_CA_BUNDLE override a session's ``verify``, so the
    environment is read here once, in one order: SSL_CERT_FILE (what httpx reads too, so a test CA reaches
    both), then REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, else certifi; proxies as the environment sets them."""
    session = _TimedSession(sign.timeout)
    session.trust_env = False
    bundles = (os.environ.get(v) for v in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))
    session.verify = next((b for b in bundles if b), True)
    session.proxies = requests.utils.get_environ_proxies(sign.authority)
    adapter = requests.adapters.HTTPAdapter(max_retries=1)  # as msal's own client: one retry of a lost connection
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _TimedSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        """requests' own request, with the connection's timeout unless the caller gives one."""
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


# -- msal apps, one per connection, kept for the process ------------------------------------------------

_APPS: dict[tuple, Any] = {}
_BUILDING: dict[tuple, threading.Lock] = {}  # one build at a time per connection; connections build at once
_LOCK = threading.Lock()  # guards the two dicts


def _key(sign: SignIn) -> tuple:
    """What makes a connection's app: a changed secret, certificate or token file makes a new one."""
    credential = json.dumps(sign.credential, sort_keys=True).encode()
    stamp = sign.token_cache.stat().st_mtime_ns if sign.token_cache and sign.token_cache.exists() else None
    return (sign.name, sign.authority, sign.client_id, sign.login, hashlib.sha256(credential).hexdigest(), stamp)


def msal_app(sign: SignIn, *, fresh: bool = False) -> Any:
    """The connection's msal app, built once (building one fetches the OpenID configuration). Connections
    build theirs at the same time (each fetch of a sync runs in its own thread); one connection never twice."""
    key = _key(sign)
    with _LOCK:
        if not fresh and key in _APPS:
            return _APPS[key]
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:
        with _LOCK:
            if not fresh and key in _APPS:  # built by another thread while this one waited
                return _APPS[key]
        app = _build(sign)
        with _LOCK:
            _APPS[key] = app
        return app


def _build(sign: SignIn) -> Any:
    """A new msal app for the connection.

    ``instance_discovery=False`` for any authority but the default one: msal would otherwise ask
    login.microsoftonline.com whether an authority it does not know (an emulator, a proxy, a sovereign cloud's
    host under a name msal lacks) is valid, and ask it again for aliases before each silent call; okrsync's
    token cache belongs to one connection and one authority, so aliases are of no use to it."""
    import msal  # type: ignore[import-untyped]  # msal ships no type hints (no py.typed)

    install_log_redaction()
    logging.getLogger("msal").setLevel(logging.WARNING)  # its debug lines quote requests and answers
    options: dict[str, Any] = {
        "authority": sign.authority,
        "http_client": http_session(sign),
        "instance_discovery": None if sign.default_authority else False,
    }
    try:
        if sign.login == "device":
            cache = msal.SerializableTokenCache()
            if sign.token_cache and sign.token_cache.exists():
                cache.deserialize(sign.token_cache.read_text())
            return msal.PublicClientApplication(sign.client_id, token_cache=cache, **options)
        return msal.ConfidentialClientApplication(sign.client_id, sign.credential, azure_region=False, **options)
    except ValueError as exc:  # msal: "Unable to get authority configuration for ..." (a tenant not found)
        found = [90002] if "authority configuration" in str(exc) else []
        raise explain({"error": "invalid_configuration", "error_codes": found, "detail": str(exc)}, sign) from None
    except requests.RequestException as exc:
        raise unreachable(sign, exc) from None


def forget(sign: SignIn) -> None:
    """Drop the connection's app after a refusal (msal replays a refused answer for up to a minute)."""
    with _LOCK:
        _APPS.pop(_key(sign), None)


def access_token(sign: SignIn, scope: str) -> str:
    """A valid access token for ``scope``: from memory while it has over 5 minutes left, else a new one
    (client credentials) or one renewed with the refresh token in ``token_cache`` (device login)."""
    import msal

    app = msal_app(sign)
    try:
        device = sign.login == "device"
        result = _silently(app, sign, scope) if device else app.acquire_token_for_client(scopes=[scope])
    except requests.RequestException as exc:
        raise unreachable(sign, exc) from None
    except msal.exceptions.MsalServiceError as exc:  # a 5xx from the token endpoint
        forget(sign)
        raise unreachable(sign, exc) from None
    if "access_token" not in result:
        forget(sign)
        raise explain(result, sign)
    REDACTOR.add(result.get("refresh_token"))
    return str(result["access_token"])


def _silently(app: Any, sign: SignIn, scope: str) -> dict:
    accounts = app.get_accounts()
    if not accounts:
        raise not_signed_in(sign)
    result = app.acquire_token_silent_with_error([scope], account=accounts[0])
    if result is None:  # nothing usable for this resource in the cache: no refresh token
        raise not_signed_in(sign)
    save_cache(app.token_cache, sign)
    return result


def save_cache(cache: Any, sign: SignIn) -> None:
    """Write the token cache when it changed: a new file beside it, mode 0600 from its creation, moved over the
    old one (a reader never sees half a file, and the refresh token is never readable by others)."""
    if sign.token_cache is None or not cache.has_state_changed:
        return
    sign.token_cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = sign.token_cache.with_name(f".{sign.token_cache.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(cache.serialize())
    os.chmod(temporary, 0o600)  # whatever the umask or an earlier file said
    os.replace(temporary, sign.token_cache)
    cache.has_state_changed = False


def device_login(sign: SignIn, scope: str, show: Any) -> str:
    """``okrsync login NAME``: the device-code flow (``show`` prints msal's message: the URL and the code),
    waiting until the user signs in; the refresh token goes to ``token_cache``. Returns who signed in."""
    app = msal_app(sign, fresh=True)
    try:
        flow = app.initiate_device_flow(scopes=[scope])
        if "user_code" not in flow:
            raise explain(flow, sign)
        show(flow["message"])
        result = app.acquire_token_by_device_flow(flow)
    except requests.RequestException as exc:
        raise unreachable(sign, exc) from None
    if "access_token" not in result:
        forget(sign)
        raise explain(result, sign)
    REDACTOR.add(result.get("access_token"), result.get("refresh_token"))
    save_cache(app.token_cache, sign)
    forget(sign)  # the next run reads the new file
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or claims.get("upn") or claims.get("oid") or "a user")


@dataclass(frozen=True)
class EntraAuth(FetchedBearer):
    """A bearer token from Microsoft Entra ID for one resource (scope ``<resource>/.default``).

    Declared on a source's class; read through an instance (``self.auth``), it is bound to that source's
    config folder, where relative ``certificate_file`` and ``token_cache`` paths are read from."""

    resource: str = ""  # "https://graph.microsoft.com", "499b84ac-1321-427f-aa17-267ca6975798" (Azure DevOps)
    resource_from: str | None = None  # or the connection key holding it (Dataverse: its environment URL)
    fallback: Auth | None = None  # what a connection without Entra keys signs in with (Azure DevOps: a PAT)
    base_dir: Path | None = field(default=None, compare=False)

    def __get__(self, source: object, owner: type | None = None) -> EntraAuth:
        folder = getattr(source, "base_dir", None)
        return self if folder is None else replace(self, base_dir=Path(folder))

    def scope(self, settings: Any) -> str:
        resource = setting(settings, self.resource_from) if self.resource_from else self.resource
        resource = resolve_env(str(resource), self.resource_from or "resource")  # url: ${D365_URL}
        return f"{resource.rstrip('/')}/.default"

    def credentials(self, settings: Any, where: str) -> Credentials:
        if self.fallback is not None and not settings.uses_entra():
            return self.fallback.credentials(settings, where)
        return super().credentials(settings, where)

    def token(self, settings: Any, where: str) -> str:
        return access_token(sign_in(settings, where, self.base_dir or Path.cwd()), self.scope(settings))

    def describe(self, settings: Any) -> str | None:
        """The token `connections test` obtained: app-only or delegated, for which scope."""
        if self.fallback is not None and not settings.uses_entra():
            return self.fallback.describe(settings)
        if settings.login == "device":
            how = f"a delegated token (device login, cached in {settings.token_cache})"
        else:
            how = "an app-only token (client credentials, " + (
                "certificate)" if settings.certificate_file else "client secret)"
            )
        return f"Entra ID: {how} for {self.scope(settings)}"


def entra_auth(source_class: type) -> EntraAuth | None:
    """The EntraAuth a source class declares, if it declares one (``okrsync login`` reads the resource)."""
    auth = getattr(source_class, "auth", None)
    return auth if isinstance(auth, EntraAuth) else None
