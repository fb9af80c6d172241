"""A certificate credential as Microsoft shops hold it (okrsync/sdk/entra_certificate.py): a .pfx exported from
the Azure portal, Key Vault or Windows, or a PEM whose key is encrypted, opened with ``certificate_password``.
Each signs a client assertion that the identity platform's emulator (HTTPS) verifies against the certificate
uploaded to the app; each mistake is a plain message that names the key to fix and quotes no secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from okrsync.connectors.power_bi import PowerBiConnection
from okrsync.errors import SourceError
from okrsync.redact import REDACTOR
from okrsync.sdk.entra import access_token, sign_in
from tests.emulators.entra import App
from tests.helpers import XL_TENANT

PASSWORD = "pfx-Passw0rd-canary"
SCOPE = "https://analysis.windows.net/powerbi/api/.default"


def key_and_certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "okrsync-app")])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
    return key, builder.not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256())


def pfx(folder: Path, password: str | None) -> tuple[Path, str]:
    key, certificate = key_and_certificate()
    protect = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    path = folder / "app.pfx"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"okrsync", key, certificate, None, protect))
    return path, certificate.public_bytes(serialization.Encoding.PEM).decode()


def encrypted_pem(folder: Path) -> tuple[Path, str]:
    key, certificate = key_and_certificate()
    locked = serialization.BestAvailableEncryption(PASSWORD.encode())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, locked).decode()
    public = certificate.public_bytes(serialization.Encoding.PEM).decode()
    path = folder / "app.pem"
    path.write_text(private + public)
    return path, public


def connection(entra, path: Path, password: str | None = "${CERT_PASSWORD}") -> PowerBiConnection:
    keys = {"tenant_id": XL_TENANT, "client_id": "app-cert", "certificate_file": path.name}
    return PowerBiConnection(type="power_bi", authority=entra.url, certificate_password=password, **keys)


def assertion_accepted(entra, settings: PowerBiConnection, folder: Path) -> None:
    token = access_token(sign_in(settings, "connections.pbi", folder), SCOPE)
    assert token in entra.issued.access
    (sent,) = entra.requests("POST", r"/oauth2/v2.0/token$")
    form = {k: v[0] for k, v in sent.form().items()}
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form and PASSWORD not in sent.body.decode()


def test_a_pfx_with_its_password_signs_in(graph_entra, tmp_path, monkeypatch):
    path, public = pfx(tmp_path, PASSWORD)
    graph_entra.add_app(App("app-cert", certificate=public))
    monkeypatch.setenv("CERT_PASSWORD", PASSWORD)
    assertion_accepted(graph_entra, connection(graph_entra, path), tmp_path)
    assert REDACTOR(f"x {PASSWORD} y") == "x *** y"  # the password is a secret from the moment it is read


def test_an_encrypted_pem_with_its_passphrase_signs_in(graph_entra, tmp_path, monkeypatch):
    path, public = encrypted_pem(tmp_path)
    graph_entra.add_app(App("app-cert", certificate=public))
    monkeypatch.setenv("CERT_PASSWORD", PASSWORD)
    assertion_accepted(graph_entra, connection(graph_entra, path), tmp_path)


@pytest.mark.parametrize(
    ("make", "password", "words"),
    [
        (lambda d: pfx(d, PASSWORD), None, "the .pfx file is protected: add certificate_password"),
        (lambda d: pfx(d, PASSWORD), "wrong-password-1", "certificate_password does not open this .pfx file"),
        (encrypted_pem, None, "its private key is encrypted: add certificate_password"),
        (encrypted_pem, "wrong-password-1", "certificate_password does not open its private key"),
    ],
)
def test_a_missing_or_wrong_password_names_the_key_and_no_secret(graph_entra, tmp_path, make, password, words):
    path, _ = make(tmp_path)
    settings = connection(graph_entra, path, password)
    with pytest.raises(SourceError) as info:
        sign_in(settings, "connections.pbi", tmp_path)
    message = info.value.message
    assert words in message and str(path) in message, message
    assert "wrong-password-1" not in message and "PRIVATE KEY" not in message
    assert graph_entra.requests("POST", r"/oauth2/v2.0/token$") == []  # refused before any sign-in


def test_a_password_without_a_certificate_is_a_config_error():
    keys = {"tenant_id": XL_TENANT, "client_id": "app-1", "client_secret": "${S}", "certificate_password": "${P}"}
    with pytest.raises(ValidationError, match="certificate_password opens a certificate_file"):
        PowerBiConnection(type="power_bi", **keys)


def test_validate_checks_a_pem_but_takes_a_pfx_as_binary(tmp_path):
    path, _ = pfx(tmp_path, None)
    (tmp_path / "key-only.pem").write_text("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n")
    given = {"tenant_id": XL_TENANT, "client_id": "app-1"}
    assert PowerBiConnection(type="power_bi", certificate_file=path.name, **given).preflight(tmp_path) == []
    ((key, message),) = PowerBiConnection(type="power_bi", certificate_file="key-only.pem", **given).preflight(tmp_path)
    assert key == "certificate_file" and "must hold the private key and the certificate" in message
