"""A connection's Entra ID sign-in (:class:`SignIn`, what okrsync.sdk.entra resolves from the keys) and
Microsoft Entra ID's refusals as plain messages: each names the connection and what to do.

msal answers a refusal with the token endpoint's error body (``error``, ``error_description``,
``error_codes``). Microsoft warns that "Apps that take a dependency on text or error code numbers will be
broken over time" (https://learn.microsoft.com/entra/identity-platform/reference-error-codes), so the
codes only pick a friendlier message, and anything else is quoted (redacted) with its ``error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from okrsync.errors import SourceError

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class SignIn:
    """One connection's sign-in, every ${ENV} resolved and each secret registered for redaction."""

    name: str
    authority: str  # the tenant's authority URL: {authority}/{tenant_id}
    tenant: str
    client_id: str
    login: str
    credential: str | dict[str, str] | None = field(default=None, repr=False)
    thumbprint: str | None = None  # the certificate's SHA-1 thumbprint, as the Azure portal shows it
    token_cache: Path | None = None
    timeout: float = 30.0

    @property
    def default_authority(self) -> bool:
        return self.authority.lower().startswith(DEFAULT_AUTHORITY + "/")


ENTRA = "Microsoft Entra ID"
# "The refresh token has expired due to inactivity" (700082), "the grant has expired due to it being
# revoked" (50173), sign-in frequency (70043), multifactor authentication now required (50076, 50079)
SIGN_IN_AGAIN = frozenset({700082, 50173, 70043, 50076, 50079})
MESSAGES: tuple[tuple[frozenset[int], str], ...] = (
    (
        frozenset({7000215}),
        "{entra} refused the client secret of app {client_id} (AADSTS7000215: invalid client secret): put the "
        "secret's Value (not its Secret ID) from the app registration's Certificates & secrets into "
        "connections.{name}.client_secret",
    ),
    (
        frozenset({7000222}),
        "the client secret of app {client_id} has expired (AADSTS7000222): create a new one under the app "
        "registration's Certificates & secrets and put its Value into connections.{name}.client_secret",
    ),
    (
        frozenset({700027}),
        "{entra} did not accept the certificate of app {client_id} (AADSTS700027; SHA-1 thumbprint {thumbprint}): "
        "upload it to the app registration's Certificates & secrets, or point certificate_file at the one there",
    ),
    (
        frozenset({700016}),
        "app {client_id} was not found in tenant {tenant} (AADSTS700016): check connections.{name}.client_id "
        "and tenant_id (the app registration's Overview)",
    ),
    (
        frozenset({90002}),
        "tenant {tenant!r} was not found at {base} (AADSTS90002): check connections.{name}.tenant_id (the "
        "Directory (tenant) ID on the app registration's Overview)",
    ),
    (
        frozenset({65001}),
        "app {client_id} is not consented in tenant {tenant} (AADSTS65001): an administrator grants consent at "
        "{authority}/adminconsent?client_id={client_id}",
    ),
    (
        frozenset({650057, 500011}),
        "app {client_id} may not ask for {resource} (AADSTS{code}): add that API's permission to the app "
        "registration (API permissions) and grant admin consent",
    ),
    (
        frozenset({53003}),
        "{entra} blocked the sign-in by a Conditional Access policy (AADSTS53003): ask the tenant's "
        "administrators to allow app {client_id}",
    ),
    (
        frozenset({7000218}),
        "app {client_id} does not allow device sign-in (AADSTS7000218): set 'Allow public client flows' to Yes "
        "in the app registration's Authentication, then run `okrsync login {name}`",
    ),
    (
        frozenset({70019}),
        "the sign-in code expired before anyone signed in (AADSTS70019): run `okrsync login {name}` again",
    ),
    (
        SIGN_IN_AGAIN,
        "the sign-in kept in {cache} has expired or was revoked (AADSTS{code}): run `okrsync login {name}`",
    ),
)
BY_ERROR = {  # answers that carry no AADSTS code worth keying on
    "expired_token": frozenset({70019}),
    "authorization_declined": frozenset(),
    "invalid_tenant": frozenset({90002}),
}


def codes(result: dict[str, Any]) -> list[int]:
    """The AADSTS codes of an answer: ``error_codes``, else those its description quotes."""
    found = result.get("error_codes")
    if isinstance(found, list) and found:
        return [int(c) for c in found if str(c).isdigit()]
    return [int(c) for c in re.findall(r"AADSTS(\d+)", str(result.get("error_description") or ""))]


def explain(result: dict[str, Any], sign: SignIn) -> SourceError:
    """The plain message for a refusal (the connection named; a secret never quoted: SourceError redacts)."""
    found = set(codes(result)) or set(BY_ERROR.get(str(result.get("error")), ()))
    fields = {
        "entra": ENTRA,
        "name": sign.name,
        "client_id": sign.client_id,
        "tenant": sign.tenant,
        "authority": sign.authority,
        "base": sign.authority.rsplit("/", 1)[0],
        "thumbprint": sign.thumbprint or "unknown",
        "cache": sign.token_cache or "token_cache",
        "resource": result.get("scope") or "that resource",
    }
    for wanted, template in MESSAGES:
        if hit := sorted(found & wanted):
            return _error(sign, template.format(code=hit[0], **fields))
    if result.get("error") == "authorization_declined":
        return _error(sign, f"the sign-in was declined: run `okrsync login {sign.name}` again and accept it")
    if result.get("error") == "invalid_grant" and sign.login == "device":
        return _error(sign, f"{ENTRA} refused the kept sign-in ({_said(result)}): run `okrsync login {sign.name}`")
    return _error(sign, f"{ENTRA} refused the sign-in: {_said(result)}")


def _said(result: dict[str, Any]) -> str:
    """The answer's own words, first line only (the rest is trace and correlation ids)."""
    description = str(result.get("error_description") or result.get("detail") or "").strip().splitlines()
    error = str(result.get("error") or "error")
    return f"{error}: {description[0][:200]}" if description else error


def not_signed_in(sign: SignIn) -> SourceError:
    where = sign.token_cache or "token_cache"
    return _error(sign, f"no user has signed in for it yet ({where} holds no sign-in): run `okrsync login {sign.name}`")


def unreachable(sign: SignIn, exc: Exception) -> SourceError:
    """The identity platform could not be asked (network, TLS, a 5xx): the next run tries again."""
    base = sign.authority.rsplit("/", 1)[0]
    if "SSLError" in type(exc).__name__ or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return _error(sign, f"the TLS certificate of {base} is not trusted (SSL_CERT_FILE names the CA bundle used)")
    return _error(sign, f"cannot get a token from {ENTRA} at {base} ({type(exc).__name__}); the next run tries again")


def _error(sign: SignIn, message: str) -> SourceError:
    return SourceError(f"connection {sign.name!r}: {message}", connection=sign.name)
