"""Self-signed TLS certificates for the app and callback servers (cryptography)."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

CERT_FILE, KEY_FILE = "localhost.crt", "localhost.key"


@dataclass
class CertResult:
    cert: Path
    key: Path
    created: bool
    not_after: datetime.datetime
    names: list[str]


def read_expiry(cert: Path) -> tuple[datetime.datetime, list[str]]:
    from cryptography import x509

    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    try:
        san = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n.value) for n in san]
    except x509.ExtensionNotFound:
        names = []
    return loaded.not_valid_after_utc, names


def ensure_certs(
    directory: Path, names: list[str], days: int = 825, force: bool = False
) -> CertResult:
    """Create ``localhost.crt`` and ``localhost.key`` unless both exist (or ``force``)."""
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    if cert.is_file() and key.is_file() and not force:
        not_after, have = read_expiry(cert)
        return CertResult(cert, key, False, not_after, have)

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    all_names = list(dict.fromkeys(["localhost", "127.0.0.1", *names]))
    alt: list[x509.GeneralName] = []
    for n in all_names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dashenv development"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(private, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key, key_bytes, 0o600)
    _write(cert, built.public_bytes(serialization.Encoding.PEM), 0o644)
    return CertResult(cert, key, True, built.not_valid_after_utc, all_names)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
