"""The TLS certificate the servers use: the project's certs/ files, or a fresh self-signed one."""

import datetime
import os
from pathlib import Path

CERT_NAME, KEY_NAME = "localhost.crt", "localhost.key"


def ensure(cert_dir: str) -> tuple[str, str]:
    d = Path(cert_dir)
    cert, key = d / CERT_NAME, d / KEY_NAME
    if cert.is_file() and key.is_file():
        return str(cert), str(key)
    d = Path("/tmp/dashtam-certs")
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / CERT_NAME, d / KEY_NAME
    if not cert.is_file():
        _generate(cert, key)
    return str(cert), str(key)


def _generate(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
