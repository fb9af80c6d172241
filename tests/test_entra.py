"""Microsoft Entra ID sign-in (okrsync/sdk/entra.py) against the Entra emulator over HTTPS: client
credentials with a secret and with a certificate, the token kept in memory until it is near its end, each
refusal as a plain message that quotes no secret, `okrsync login NAME` (device code) with its 0600 token
cache, silent renewal, a revoked sign-in; and no request leaves loopback (a socket guard)."""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from okrsync.errors import SourceError
from okrsync.registry import registry
from okrsync.sdk import ApiClient, ApiSource, Connector, EntraAuth, EntraConnection, MetricParams, MetricQuery
from okrsync.sdk import entra as entra_module
from okrsync.testing import Emulator, Fault, Request, Response, route
from okrsync.testing.emulator import TestCertificates
from tests.emulators.entra import App, EntraEmulator
from tests.helpers import okrsync

TENANT = "11111111-2222-3333-4444-555555555555"
SECRET = "Xy8Q~secret-value-of-the-app-0123456789"
GRAPH = "https://graph.microsoft.com"


class MsConnection(EntraConnection):
    type: Literal["ms_fake"]


class MsMetric(MetricParams):
    path: str = "/value"


class MsSource(ApiSource[MsConnection, MsMetric]):
    """A Microsoft source as the connectors will write it: its Entra auth is one line."""

    api_root = "https://graph.invalid"
    auth = EntraAuth(GRAPH)
    vendor = "a Microsoft API"
    check_path = "/value"

    def read(self, client: ApiClient, query: MetricQuery) -> float:
        return float(client.json("GET", query.params.path)["value"])


FAKE = Connector("ms_fake", connection=MsConnection, metric=MsMetric, source=MsSource)


class Resource(Emulator):
    """The API behind the token: answers only a bearer token the identity platform issued."""

    def __init__(self, entra: EntraEmulator):
        super().__init__()
        self.entra = entra

    @route("GET", r"/value")
    def value(self, req: Request):
        if req.headers.get("authorization", "").removeprefix("Bearer ") not in self.entra.issued.access:
            return Response(401, {"error": {"code": "InvalidAuthenticationToken"}})
        return {"value": 42}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection and name lookup stays on 127.0.0.1: msal must never reach login.microsoftonline.com."""
    outside: list[str] = []
    lookup, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_lookup(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            outside.append(str(host))
            raise OSError(f"test guard: no lookups of {host}")
        return lookup(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            outside.append(str(address))
            raise OSError(f"test guard: no connections to {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.delenv("MSAL_FORCE_REGION", raising=False)
    entra_module._APPS.clear()
    yield outside
    entra_module._APPS.clear()
    assert outside == [], f"requests left loopback: {outside}"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return TestCertificates.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def entra(certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))  # what msal (through okrsync) and httpx trust
    emulator = EntraEmulator(TENANT).start(tls=certificates)
    emulator.add_app(App("app-1", secret=SECRET))
    yield emulator
    emulator.stop()
    assert not emulator.requests(path="/common/discovery/instance"), "instance_discovery must be off"


@pytest.fixture
def resource(entra, certificates):
    emulator = Resource(entra).start(tls=certificates)
    yield emulator
    emulator.stop()


@pytest.fixture
def fake_connector():
    registry().register(FAKE)
    try:
        yield FAKE
    finally:
        registry().unregister("ms_fake")


def connection(entra: EntraEmulator, **keys) -> MsConnection:
    keys = {"tenant_id": TENANT, "client_id": "app-1", "client_secret": "${ENTRA_SECRET}", **keys}
    return MsConnection(type="ms_fake", authority=entra.url, **keys)


def token_posts(entra: EntraEmulator) -> int:
    return len(entra.requests("POST", r"/oauth2/v2.0/token$"))


def self_signed(folder: Path, name: str = "okrsync-app") -> tuple[Path, str]:
    """A certificate credential as the Azure portal takes it: an RSA key and its self-signed certificate, in one
    PEM (okrsync's certificate_file) and the certificate alone (what is uploaded to the app registration)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
    certificate = builder.not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256())
    public = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = folder / f"{name}.pem"
    path.write_text(private + public)
    return path, public


# --- client credentials -----------------------------------------------------------------------------------


def test_client_secret_over_https_reaches_the_api(entra, resource, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ENTRA_SECRET", SECRET)
    source = MsSource("xl", connection(entra, endpoint=resource.url), tmp_path)
    app_only = f"Entra ID: an app-only token (client credentials, client secret) for {GRAPH}/.default"
    assert source.check() == f"credentials accepted ({app_only})"
    (sent,) = entra.requests("POST", r"/oauth2/v2.0/token$")
    form = {k: v[0] for k, v in sent.form().items()}
    assert form["grant_type"] == "client_credentials" and form["scope"] == f"{GRAPH}/.default"
    assert form["client_secret"] == SECRET and "authorization" not in sent.headers  # in the body, as msal sends it
    assert [r.path for r in entra.log] == [f"/{TENANT}/v2.0/.well-known/openid-configuration", sent.path]
    assert SECRET not in caplog.text


def test_certificate_credential_signs_an_assertion_the_emulator_verifies(entra, resource, tmp_path):
    pem, public = self_signed(tmp_path)
    entra.add_app(App("app-cert", certificate=public))
    keys = {"client_id": "app-cert", "client_secret": None, "certificate_file": pem.name, "endpoint": resource.url}
    source = MsSource("pbi", connection(entra, **keys), tmp_path)  # certificate_file: from the config's folder
    assert (
        source.check()
        == f"credentials accepted (Entra ID: an app-only token (client credentials, certificate) for {GRAPH}/.default)"
    )
    (sent,) = entra.requests("POST", r"/oauth2/v2.0/token$")
    form = {k: v[0] for k, v in sent.form().items()}
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form and form["client_assertion"].count(".") == 2


def test_a_certificate_the_app_does_not_know_names_its_thumbprint(entra, tmp_path):
    pem, _ = self_signed(tmp_path, "stranger")
    _, known = self_signed(tmp_path, "uploaded")
    entra.add_app(App("app-cert", certificate=known))
    keys = {"client_id": "app-cert", "client_secret": None, "certificate_file": str(pem)}
    with pytest.raises(SourceError) as info:
        MsSource("pbi", connection(entra, **keys), tmp_path).client()
    thumbprint = x509.load_pem_x509_certificate(pem.read_bytes()).fingerprint(hashes.SHA1()).hex().upper()
    assert "AADSTS700027" in info.value.message and thumbprint in info.value.message
    assert "PRIVATE KEY" not in info.value.message


class MeetingEntra(EntraEmulator):
    """Answers the OpenID configuration only once ``parties`` requests for it are in at the same time."""

    def __init__(self, tenant: str, parties: int):
        super().__init__(tenant)
        self.meeting = threading.Barrier(parties, timeout=20)

    def openid_configuration(self, req: Request, tenant: str):
        self.meeting.wait()  # raises BrokenBarrierError (an answer of 500) when they come one after another
        return super().openid_configuration(req, tenant)


def test_connections_build_their_msal_apps_at_the_same_time(certificates, monkeypatch, tmp_path):
    """Two connections' sign-ins in two threads (as a sync's fetch runs them): each app's OpenID configuration
    is asked for while the other's is, not after it (one process-wide lock made them wait their turn)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    monkeypatch.setenv("ENTRA_SECRET", SECRET)
    emulator = MeetingEntra(TENANT, parties=2).start(tls=certificates)
    emulator.add_app(App("app-1", secret=SECRET))
    tokens: dict[str, str] = {}
    try:
        conns = {name: connection(emulator) for name in ("a", "b")}

        def sign(name: str) -> None:
            tokens[name] = EntraAuth(GRAPH).token(conns[name], f"connections.{name}")

        threads = [threading.Thread(target=sign, args=(name,)) for name in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        emulator.stop()
    assert sorted(tokens) == ["a", "b"] and not emulator.meeting.broken


def test_the_token_is_reused_until_five_minutes_before_its_end(entra, monkeypatch, tmp_path, figures):
    monkeypatch.setenv("ENTRA_SECRET", SECRET)
    clock = [1_900_000_000.0]
    monkeypatch.setattr(msal.application, "time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(msal.token_cache, "time", SimpleNamespace(time=lambda: clock[0]))
    settings, start = connection(entra), clock[0]
    first = MsSource("xl", settings, tmp_path).client().client.headers["authorization"]
    for minutes in (1, 30, 54):  # three more syncs within the hour: the same token, no request
        clock[0] = start + 60 * minutes
        assert MsSource("xl", settings, tmp_path).client().client.headers["authorization"] == first
    reused = token_posts(entra)
    clock[0] = start + 3599 - 299  # under 5 minutes left: renewed before it ends
    renewed = MsSource("xl", settings, tmp_path).client().client.headers["authorization"]
    assert reused == 1 and token_posts(entra) == 2 and renewed != first
    assert len(entra.requests("GET")) == 1  # the OpenID configuration, once per connection
    figures.append(("entra sign-in", "4 syncs within 55 min, then one at 55 min", {"token requests": 2}))


# --- refusals: plain messages, no secret ------------------------------------------------------------------


def test_a_wrong_secret_is_a_plain_message_without_the_secret(entra, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng~secret-that-must-never-show-123"
    monkeypatch.setenv("ENTRA_SECRET", wrong)
    with pytest.raises(SourceError) as info:
        MsSource("xl", connection(entra), tmp_path).client()
    message = info.value.message
    assert message.startswith("connection 'xl': ") and "AADSTS7000215" in message
    assert "connections.xl.client_secret" in message and "Secret ID" in message
    assert wrong not in message and wrong not in caplog.text and info.value.connection == "xl"


def test_an_unknown_tenant_says_which_key_to_check(entra, monkeypatch, tmp_path):
    monkeypatch.setenv("ENTRA_SECRET", SECRET)
    with pytest.raises(SourceError) as info:
        MsSource("xl", connection(entra, tenant_id="not-our-tenant"), tmp_path).client()
    assert "tenant 'not-our-tenant' was not found" in info.value.message
    assert "connections.xl.tenant_id" in info.value.message and "AADSTS90002" in info.value.message


def test_the_config_refuses_entra_keys_that_do_not_fit(entra):
    with pytest.raises(ValueError, match="token_cache"):
        MsConnection(type="ms_fake", tenant_id=TENANT, client_id="app-1", login="device")
    with pytest.raises(ValueError, match="client_secret .* or certificate_file"):
        MsConnection(type="ms_fake", tenant_id=TENANT, client_id="app-1")
    with pytest.raises(ValueError, match="not a tenant"):
        MsConnection(type="ms_fake", tenant_id="common", client_id="app-1", client_secret="x")


# --- device login: okrsync login NAME ---------------------------------------------------------------------


@pytest.fixture
def device_config(entra, resource, fake_connector, write_config):
    entra.add_app(App("public-app", public=True))
    return write_config(f"""
        connections:
          xl: {{type: ms_fake, tenant_id: {TENANT}, client_id: public-app, login: device,
                token_cache: tokens/xl.json, authority: "{entra.url}", endpoint: "{resource.url}"}}
          app: {{type: ms_fake, tenant_id: {TENANT}, client_id: app-1, client_secret: "${{ENTRA_SECRET}}",
                 authority: "{entra.url}", endpoint: "{resource.url}"}}
        metrics:
          cells: {{connection: xl, path: /value}}
        kpis: [{{id: cells, metric: cells, healthy: {{min: 0}}}}]
    """)


def test_device_login_then_silent_renewal_then_revocation(entra, device_config, caplog):
    caplog.set_level(logging.DEBUG)
    entra.expires_in = 240  # under msal's 5 minutes: the next run must renew with the refresh token
    ran = okrsync("-c", str(device_config), "login", "xl")
    assert ran.returncode == 0, ran.stderr
    assert "https://microsoft.com/devicelogin" in ran.stdout and "enter the code" in ran.stdout
    assert "signed in as kari@contoso.example" in ran.stdout
    cache = device_config.parent / "tokens" / "xl.json"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    polls = entra.requests("POST", r"/oauth2/v2.0/token$")
    assert len(entra.requests("POST", "/devicecode$")) == 1 and len(polls) == 2  # pending once, then the tokens
    refresh = entra.issued.refresh.copy()
    entra_module._APPS.clear()  # a later process: it has only the file

    test = okrsync("-c", str(device_config), "connections", "test", "--as-of", "2026-11-15")
    assert "✓ xl (ms_fake)" in test.stdout and "cells = 42" in test.stdout, test.stdout + test.stderr
    assert "Entra ID: a delegated token (device login, cached in" in " ".join(test.stdout.split())
    grants = [r.form()["grant_type"][0] for r in entra.requests("POST", r"/oauth2/v2.0/token$")[2:]]
    assert grants[0] == "refresh_token" and len(entra.requests("POST", "/devicecode$")) == 1  # nobody prompted
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    run = okrsync("-c", str(device_config), "run", "--as-of", "2026-11-15")
    assert run.returncode == 0, run.stdout + run.stderr
    tokens = [*refresh, *entra.issued.refresh, *entra.issued.access]
    assert all(token not in ran.stdout + test.stdout + run.stdout + run.stderr + caplog.text for token in tokens)
    for path in device_config.parent.rglob("*"):  # the store and everything else the runs wrote
        if path.is_file() and path != cache:
            assert not any(token.encode() in path.read_bytes() for token in tokens), path

    entra.revoke_all()
    entra_module._APPS.clear()
    revoked = okrsync("-c", str(device_config), "connections", "test", "--as-of", "2026-11-15")
    assert revoked.returncode == 1 and "Traceback" not in revoked.stdout + revoked.stderr
    assert "AADSTS700082" in revoked.stdout and "run `okrsync login xl`" in revoked.stdout


def test_a_login_without_consent_gives_the_admin_consent_url(entra, device_config):
    entra.apps["public-app"].consented = False
    ran = okrsync("-c", str(device_config), "login", "xl")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "AADSTS65001" in ran.stderr
    assert f"{entra.url}/{TENANT}/adminconsent?client_id=public-app" in ran.stderr.replace("\n", "")
    assert not (device_config.parent / "tokens" / "xl.json").exists()


def test_login_needs_login_device_and_a_known_connection(entra, device_config):
    ran = okrsync("-c", str(device_config), "login", "app")
    assert ran.returncode == 2 and "login: device" in ran.stderr and "token_cache" in ran.stderr
    unknown = okrsync("-c", str(device_config), "login", "nope")
    assert unknown.returncode == 2 and "no connection 'nope'" in unknown.stderr
    assert not entra.requests("POST")


def test_a_device_connection_nobody_signed_in_for_names_the_command(entra, device_config):
    with pytest.raises(SourceError, match=r"run `okrsync login xl`"):
        settings = MsConnection(
            type="ms_fake", tenant_id=TENANT, client_id="public-app", login="device", token_cache="none.json"
        )
        MsSource("xl", settings.model_copy(update={"authority": entra.url}), device_config.parent).client()


def test_the_guard_stops_a_connection_that_leaves_loopback(loopback_only):
    with pytest.raises(OSError, match="test guard"):
        socket.getaddrinfo("login.microsoftonline.com", 443)  # how requests and httpx begin
    with socket.socket() as raw, pytest.raises(OSError, match="test guard"):
        raw.connect(("203.0.113.7", 443))
    assert loopback_only == ["login.microsoftonline.com", "('203.0.113.7', 443)"]
    loopback_only.clear()


def test_the_emulator_checks_each_form_against_the_excerpt(entra):
    from tests import vendor_spec

    form = b"client_id=app-1&grant_type=client_credentials&client_secret=x&scope=https%3A%2F%2Fgraph.microsoft.com"
    entra._form(Request("POST", f"/{TENANT}/oauth2/v2.0/token", {}, {}, form, 0.0), "TokenRequestClientCredentials")
    found, vendor_spec.PROBLEMS[:] = list(vendor_spec.PROBLEMS), []
    assert len(found) == 1 and "does not match" in found[0] and ".default" in found[0]


def test_a_key_that_is_not_the_certificates_and_a_down_service_are_plain_messages(entra, monkeypatch, tmp_path):
    pem, _ = self_signed(tmp_path, "one")
    other, _ = self_signed(tmp_path, "two")
    key_of_one = pem.read_text().split("-----BEGIN CERTIFICATE-----")[0]
    mixed = tmp_path / "mixed.pem"
    mixed.write_text(
        key_of_one + "-----BEGIN CERTIFICATE-----" + other.read_text().split("-----BEGIN CERTIFICATE-----")[1]
    )
    keys = {"client_secret": None, "certificate_file": str(mixed)}
    with pytest.raises(SourceError, match="the private key does not belong to the certificate") as info:
        MsSource("pbi", connection(entra, **keys), tmp_path).client()
    assert "PRIVATE KEY" not in info.value.message
    monkeypatch.setenv("ENTRA_SECRET", SECRET)
    entra.fault("POST", r"/token$", Fault(503, {"error": "temporarily_unavailable"}))
    with pytest.raises(SourceError, match="the next run tries again") as down:
        MsSource("xl", connection(entra), tmp_path).client()
    assert down.value.message.startswith("connection 'xl': cannot get a token from Microsoft Entra ID")
