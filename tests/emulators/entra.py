"""The Microsoft identity platform's v2.0 endpoints, the server half msal talks to (over HTTPS).

GET  /{tenant}/v2.0/.well-known/openid-configuration   the endpoints, on this server's own host:port
POST /{tenant}/oauth2/v2.0/token                         client_credentials (client_secret, or a
                                                         client_assertion JWT checked against the app's
                                                         certificate), refresh_token, device_code
POST /{tenant}/oauth2/v2.0/devicecode                    a device code; polls answer authorization_pending
                                                         ``pending`` times, then the user's tokens

Refusals carry the documented error body (``error``, ``error_description`` with the AADSTS code,
``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``):
https://learn.microsoft.com/entra/identity-platform/reference-error-codes,
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (the 400 example),
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code (authorization_pending),
https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc (the configuration document).
Each form is checked against the form schemas of tests/vendor_specs/entra.json (vendor_spec.py checks
the method and path of every request; form bodies are this emulator's to check).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field

import jsonschema
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from okrsync.testing import Emulator, Request, Response, route
from tests import vendor_spec

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
WRONG_SECRET = (
    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
    "not the client secret ID, for a secret added to the app."
)
PENDING = "The provided request has not yet been authorized by the user. The user must input their code."
FORMS = {
    "client_credentials": "TokenRequestClientCredentials",
    DEVICE_GRANT: "TokenRequestDeviceCode",
    "refresh_token": "TokenRequestRefreshToken",
}


@dataclass
class App:
    """An app registration: a secret, a certificate (PEM), consent, and whether public client flows are on."""

    client_id: str
    secret: str | None = None
    certificate: str | None = None
    consented: bool = True
    public: bool = False


@dataclass
class Device:
    client_id: str
    scope: str
    polls: int = 0


@dataclass
class Issued:
    access: list[str] = field(default_factory=list)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> client_id


class EntraEmulator(Emulator):
    vendor = "entra"

    def __init__(self, tenant: str = "11111111-2222-3333-4444-555555555555", expires_in: int = 3599):
        super().__init__()
        self.tenants = {tenant}
        self.apps: dict[str, App] = {}
        self.expires_in = expires_in
        self.pending = 1  # device-code polls answered authorization_pending before the user "signs in"
        self.devices: dict[str, Device] = {}
        self.issued = Issued()
        self.revoked: set[str] = set()

    def add_app(self, app: App) -> App:
        self.apps[app.client_id] = app
        return app

    # -- endpoints ---------------------------------------------------------------------------------

    @route("GET", r"/([^/]+)/v2.0/.well-known/openid-configuration")
    def openid_configuration(self, req: Request, tenant: str):
        if tenant not in self.tenants:
            text = f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."
            return refusal(400, "invalid_tenant", 90002, text)
        base = f"{self.url}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    @route("POST", r"/([^/]+)/oauth2/v2.0/devicecode")
    def devicecode(self, req: Request, tenant: str):
        form = self._form(req, "DeviceCodeRequest")
        app = self.apps.get(form.get("client_id", ""))
        if tenant not in self.tenants:
            return refusal(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if app is None:
            return refusal(400, "unauthorized_client", 700016, "Application with identifier was not found.")
        code = secrets.token_urlsafe(24)
        self.devices[code] = Device(app.client_id, form["scope"])
        user_code = secrets.token_hex(4).upper()
        return {
            "user_code": user_code,
            "device_code": code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": 1,
            "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and "
            f"enter the code {user_code} to authenticate.",
        }

    @route("POST", r"/([^/]+)/oauth2/v2.0/token")
    def token(self, req: Request, tenant: str):
        grant = (req.form().get("grant_type") or [""])[0]
        form = self._form(req, FORMS.get(grant, "TokenRequestClientCredentials"))
        if tenant not in self.tenants:
            return refusal(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return refusal(400, "unauthorized_client", 700016, "Application was not found in the directory.")
        if grant == "client_credentials":
            return self._client_credentials(app, form, f"{self.url}{req.path}")
        if grant == DEVICE_GRANT:
            return self._device(app, form)
        if grant == "refresh_token":
            return self._refresh(app, form)
        return refusal(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")

    # -- grants ------------------------------------------------------------------------------------

    def _client_credentials(self, app: App, form: dict[str, str], audience: str) -> Response | dict:
        if app.public and app.secret is None and app.certificate is None:
            text = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
            return refusal(401, "invalid_client", 7000218, text)
        if "client_secret" in form and form["client_secret"] != app.secret:
            return refusal(401, "invalid_client", 7000215, WRONG_SECRET)
        if "client_assertion" in form and not self._assertion_holds(app, form["client_assertion"], audience):
            return refusal(401, "invalid_client", 700027, "Client assertion failed signature validation.")
        return self._tokens(form["scope"], user=False)

    def _device(self, app: App, form: dict[str, str]) -> Response | dict:
        device = self.devices.get(form["device_code"])
        if device is None or device.client_id != app.client_id:
            return refusal(400, "invalid_grant", 70018, "Invalid verification code entered.")
        device.polls += 1
        if device.polls <= self.pending:
            return refusal(400, "authorization_pending", 70016, PENDING)
        del self.devices[form["device_code"]]
        if not app.consented:
            text = f"The user or administrator has not consented to use the application with ID '{app.client_id}'."
            return refusal(400, "invalid_grant", 65001, text)
        return self._tokens(device.scope, user=True, client_id=app.client_id)

    def _refresh(self, app: App, form: dict[str, str]) -> Response | dict:
        token = form["refresh_token"]
        if token in self.revoked or self.issued.refresh.get(token) != app.client_id:
            answer = refusal(400, "invalid_grant", 700082, "The refresh token has expired due to inactivity.")
            answer.body["suberror"] = "bad_token"
            return answer
        return self._tokens(form["scope"], user=True, client_id=app.client_id)

    def _tokens(self, scope: str, *, user: bool, client_id: str = "") -> dict:
        access = "eyJ0eXAiOiJKV1QifQ." + secrets.token_urlsafe(32)
        self.issued.access.append(access)
        answer = {"token_type": "Bearer", "expires_in": self.expires_in, "ext_expires_in": self.expires_in}
        answer["access_token"] = access
        if user:
            refresh = "0.AAAA" + secrets.token_urlsafe(32)
            self.issued.refresh[refresh] = client_id
            tenant = next(iter(self.tenants))
            claims = {"aud": client_id, "iss": f"https://login.microsoftonline.com/{tenant}/v2.0", "tid": tenant}
            claims |= {"oid": "u-1", "preferred_username": "kari@contoso.example", "iat": int(time.time())}
            claims["exp"] = int(time.time()) + 3600
            answer |= {"scope": f"{scope} openid profile", "refresh_token": refresh, "id_token": unsigned(claims)}
            answer["client_info"] = b64(json.dumps({"uid": "u-1", "utid": tenant}).encode())
        return answer

    def revoke_all(self) -> None:
        """The user's refresh tokens are revoked (a password reset, an admin's "revoke sessions")."""
        self.revoked |= set(self.issued.refresh)

    # -- checks ------------------------------------------------------------------------------------

    def _form(self, req: Request, schema: str) -> dict[str, str]:
        """The form as one value per field, checked against the excerpt's schema (problems fail the test)."""
        form = {k: v[0] for k, v in req.form().items()}
        definition = vendor_spec.spec("entra")["schemas"][schema]
        try:
            jsonschema.validate(form, definition)
        except jsonschema.ValidationError as exc:
            vendor_spec.PROBLEMS.append(f"entra: {req.method} {req.path}: form does not match {schema}: {exc.message}")
        return form

    def _assertion_holds(self, app: App, assertion: str, audience: str) -> bool:
        """The JWT's signature against the app's certificate, its x5t#S256 against that certificate, and the
        claims the client-credentials page asks for (aud: the token endpoint, iss = sub = client_id)."""
        if app.certificate is None:
            return False
        certificate = x509.load_pem_x509_certificate(app.certificate.encode())
        header = jwt.get_unverified_header(assertion)
        sent = str(header.get("x5t#S256") or "")  # RFC 7515 says base64url; msal 1.39 sends padded base64
        if sent and base64.urlsafe_b64decode(sent.replace("+", "-").replace("/", "_") + "==") != (
            certificate.fingerprint(hashes.SHA256())
        ):
            return False
        try:
            key = certificate.public_key()
            claims = jwt.decode(assertion, key, algorithms=["PS256", "RS256"], audience=audience)
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == claims.get("sub") == app.client_id


def refusal(status: int, error: str, code: int, text: str) -> Response:
    """Microsoft's error body: the code in ``error_description`` and in ``error_codes``, then trace ids."""
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    description = f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
    body = {"error": error, "error_description": description, "error_codes": [code], "timestamp": stamp}
    body |= {"trace_id": str(trace), "correlation_id": str(correlation)}
    body["error_uri"] = f"https://login.microsoftonline.com/error?code={code}"
    return Response(status, body)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(claims: dict) -> str:
    """An id_token msal only decodes ("MSAL does not validate the ID token"): alg none."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."
