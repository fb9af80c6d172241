"""How a REST source proves who it is: small auth objects an :class:`~okrsync.sdk.api_source.ApiSource`
declares, each with one method from the connection's settings to the :class:`Credentials` its client sends.

Each names the connection key(s) that hold the secret (``"token"``, or a dotted path such as
``"auth.username"``); the value is resolved from ``${ENV}`` when the client is built and registered for
redaction, and a missing variable names the key that referenced it (``connections.NAME.token``). An
optional key left out (``None`` anywhere on its path) sends nothing.

    BearerToken()                   Authorization: Bearer <token>          (GitHub, HubSpot)
    HeaderToken("x-api-token")      a vendor's own header                  (Pipedrive)
    QueryToken("api_key")           a query parameter (only where a vendor accepts nothing else:
                                    redaction scrubs it, but proxies log URLs)
    Basic("email", "token")         HTTP basic auth, as httpx sends it     (any JSON API, Jira Cloud)

Extension point: a token that must be *obtained* first (OAuth 2.0 client credentials, e.g. Microsoft
Entra ID through msal: tenant_id, client_id, client_secret or certificate_file, authority) is one more
subclass whose :meth:`Auth.credentials` asks for the token and returns it as a bearer header (see
:class:`FetchedBearer`). Microsoft's is :class:`okrsync.sdk.entra.EntraAuth` (msal; client credentials or a
device login kept in a token cache), declared in one line: ``auth = EntraAuth("https://graph.microsoft.com")``.
Salesforce's own client-credentials login is its source's ``credentials`` override.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from okrsync.sdk.http import secret


@dataclass(frozen=True)
class Credentials:
    """What a client sends with every request: headers, query parameters, basic auth (user, password)."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None


def setting(settings: Any, key: str) -> Any:
    """The value at a dotted ``key`` of a connection's settings; None when any step is absent."""
    value = settings
    for part in key.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


class Auth(ABC):
    """One method: the credentials of a connection (``where``: ``connections.NAME``, for messages)."""

    @abstractmethod
    def credentials(self, settings: Any, where: str) -> Credentials: ...

    def describe(self, settings: Any) -> str | None:
        """Which credential a connection signs in with, for `okrsync connections test` (None: say nothing)."""
        return None

    @staticmethod
    def resolve(settings: Any, key: str, where: str) -> str | None:
        """The secret at ``key``, its ${ENV} references resolved and the result registered for redaction."""
        value = setting(settings, key)
        return None if value is None else secret(str(value), f"{where}.{key}")


@dataclass(frozen=True)
class BearerToken(Auth):
    key: str = "token"

    def credentials(self, settings: Any, where: str) -> Credentials:
        token = self.resolve(settings, self.key, where)
        return Credentials(headers={"Authorization": f"Bearer {token}"} if token is not None else {})


@dataclass(frozen=True)
class HeaderToken(Auth):
    header: str
    key: str = "token"

    def credentials(self, settings: Any, where: str) -> Credentials:
        token = self.resolve(settings, self.key, where)
        return Credentials(headers={self.header: token} if token is not None else {})


@dataclass(frozen=True)
class QueryToken(Auth):
    param: str
    key: str = "token"

    def credentials(self, settings: Any, where: str) -> Credentials:
        token = self.resolve(settings, self.key, where)
        return Credentials(params={self.param: token} if token is not None else {})


@dataclass(frozen=True)
class Basic(Auth):
    username: str = "username"
    password: str = "password"

    def credentials(self, settings: Any, where: str) -> Credentials:
        user = self.resolve(settings, self.username, where)
        if user is None:
            return Credentials()
        return Credentials(basic=(user, self.resolve(settings, self.password, where) or ""))


class FetchedBearer(Auth):
    """A bearer token obtained at client time (OAuth 2.0 client credentials: Entra ID through msal, a
    vendor's own token endpoint). A subclass writes :meth:`token`; failures raise SourceError."""

    @abstractmethod
    def token(self, settings: Any, where: str) -> str: ...

    def credentials(self, settings: Any, where: str) -> Credentials:
        return Credentials(headers={"Authorization": f"Bearer {secret(self.token(settings, where), 'access token')}"})
