"""The web UI's self-signed TLS certificate, made on first start in the data directory.

Writes ``web-cert.pem`` / ``web-key.pem`` (key mode 0600) once and reuses them;
an admin may replace both files with a real certificate. Knows nothing of HTTP.
The certificate is made in a short-lived child process so that the daemon never
loads ``cryptography`` (about 9 MB of resident memory it would keep for nothing).
"""

import datetime
import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

CERT_NAME = "web-cert.pem"
KEY_NAME = "web-key.pem"
VALIDITY_DAYS = 3650
DEFAULT_ADDRESS = "10.135.0.1"  # the box's factory LAN address (seed: "Premier accès WMS")


def ensure_certificate(data_dir: Path, extra_hosts: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """Paths of the certificate and key, generating them when absent."""
    cert_path, key_path = data_dir / CERT_NAME, data_dir / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    done = subprocess.run([sys.executable, "-m", __name__, str(data_dir), *extra_hosts],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"could not make the web certificate: {done.stderr.strip()[-500:]}")
    return cert_path, key_path


def make_certificate(cert_path: Path, key_path: Path, extra_hosts: tuple[str, ...] = ()) -> None:
    """Generate a self-signed certificate and its key (run in the child process)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    hostname = socket.gethostname() or "wpbx"
    names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost")]
    for host in ("127.0.0.1", DEFAULT_ADDRESS, *extra_hosts):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            continue
        if not address.is_unspecified and x509.IPAddress(address) not in names:
            names.append(x509.IPAddress(address))
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hostname),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wpbx"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    make_certificate(Path(sys.argv[1]) / CERT_NAME, Path(sys.argv[1]) / KEY_NAME, tuple(sys.argv[2:]))
