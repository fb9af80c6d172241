"""The certificate credential of an Entra ID connection, read from ``certificate_file``: a PEM holding the
private key (plain or encrypted) and its certificate, or a PKCS #12 file (``.pfx``/``.p12``, what the Azure
portal, Key Vault and Windows export). ``certificate_password`` (a ``${ENV}`` reference) opens an encrypted
key or a PKCS #12 file.

msal takes the key as PEM ("MSAL Python requires a private_key in PEM format"; its docs suggest
``openssl pkcs12 -in file.pfx -out file.pem -nodes``): okrsync does that conversion in memory, so the
decrypted key never touches the disk, and registers it with the redactor. msal computes the SHA-256
thumbprint it sends (``x5t#S256``) from the certificate; the SHA-1 thumbprint is for messages (the portal
shows it). https://learn.microsoft.com/entra/identity-platform/certificate-credentials
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from okrsync.errors import SourceError
from okrsync.redact import REDACTOR

PKCS12_SUFFIXES = (".pfx", ".p12")
PEM_KEY = re.compile(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def is_pkcs12(path: Path | str) -> bool:
    return str(path).lower().endswith(PKCS12_SUFFIXES)


def pem_problem(text: str) -> str | None:
    """What a PEM ``certificate_file`` lacks, before any sign-in (``validate``); None when both parts are there."""
    if PEM_KEY.search(text) is None or "BEGIN CERTIFICATE-----" not in text:
        return "must hold the private key and the certificate (PEM), or be a .pfx/.p12 file"
    return None


def load_certificate(path: Path, password: str | None, name: str) -> tuple[dict[str, str], str]:
    """msal's credential (the key as unencrypted PKCS #8 PEM, and the certificate) and the SHA-1 thumbprint."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    def fail(why: str) -> SourceError:
        return SourceError(f"certificate_file {path}: {why}", connection=name)

    try:
        data = path.resolve().read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read certificate_file {path}: {exc.strerror}", connection=name) from None
    key, certificate = _pkcs12(data, password, fail) if is_pkcs12(path) else _pem(data, password, fail)
    if key.public_key() != certificate.public_key():
        raise fail("the private key does not belong to the certificate")
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    REDACTOR.add(private, *private.splitlines()[1:-1])
    public = certificate.public_bytes(Encoding.PEM).decode()
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # the portal's thumbprint
    return {"private_key": private, "public_certificate": public}, thumbprint


def _password(password: str | None) -> bytes | None:
    return password.encode() if password is not None else None


def _pkcs12(data: bytes, password: str | None, fail: Any) -> tuple[Any, Any]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, _password(password))
    except ValueError:
        if password is None:
            raise fail("the .pfx file is protected: add certificate_password: ${ENV} (its password)") from None
        raise fail("certificate_password does not open this .pfx file, or it is not PKCS #12") from None
    if key is None or certificate is None:
        raise fail("the .pfx file must hold the private key and its certificate")
    return key, certificate


def _pem(data: bytes, password: str | None, fail: Any) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = data.decode("utf-8", "replace")
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise fail("holds no PEM certificate") from None
    found = PEM_KEY.search(text)
    if found is None:
        raise fail("holds no private key (PEM)")
    REDACTOR.add(found.group(0), *found.group(0).splitlines()[1:-1])
    encrypted = "ENCRYPTED" in found.group(0) or "Proc-Type: 4,ENCRYPTED" in found.group(0)
    if encrypted and password is None:
        raise fail("its private key is encrypted: add certificate_password: ${ENV} (the key's passphrase)")
    try:
        key = load_pem_private_key(found.group(0).encode(), _password(password) if encrypted else None)
    except (ValueError, TypeError):
        raise fail(
            "certificate_password does not open its private key" if encrypted else "its private key cannot be read"
        ) from None
    return key, certificate
