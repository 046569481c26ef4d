"""Throwaway certificates for engines reached over tcp:// with TLS, made with `cryptography`.

Laid out as Docker's documentation has them: a CA; for each engine `server-cert.pem` and
`server-key.pem` naming its addresses (dockerd --tlsverify --tlscacert --tlscert --tlskey); for
a client a directory with `ca.pem`, `cert.pem` and `key.pem` (the CLI's DOCKER_CERT_PATH, and
deployhook's docker_tls.cert_path). EC P-256 keys: generating one takes milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAYS = 2


@dataclass(frozen=True)
class Authority:
    """A CA: its certificate (ca.pem in `directory`) and its key, to sign what it vouches for."""

    directory: Path
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
    """`path`: the certificate's file; the key goes beside it (`cert.pem` -> `key.pem`)."""
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path = path.with_name(path.name.replace("cert", "key"))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    """With key identifiers, as real CAs issue them (OpenSSL's strict mode requires them)."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
    )


def _issued_by(ca: Authority) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())


def authority(directory: Path, name: str) -> Authority:
    """A new CA named `name`, its certificate written to `directory`/ca.pem."""
    directory.mkdir(parents=True, exist_ok=True)
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    certificate = (
        _builder(name, subject, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(directory, certificate, key)


def server_certificate(ca: Authority, directory: Path, addresses: list[str]) -> Path:
    """server-cert.pem and server-key.pem in `directory`, valid for these IP addresses."""
    directory.mkdir(parents=True, exist_ok=True)
    key = _key()
    names = [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    certificate = (
        _builder(addresses[0], ca.certificate.subject, key)
        .add_extension(_issued_by(ca), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    path = directory / "server-cert.pem"
    _write(path, key, certificate)
    return path


def client_directory(ca: Authority, trusted: Authority, directory: Path, name: str) -> Path:
    """A client's DOCKER_CERT_PATH: cert.pem and key.pem signed by `ca`, and `trusted`'s ca.pem
    (the CA it verifies the engine with)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = _key()
    certificate = (
        _builder(name, ca.certificate.subject, key)
        .add_extension(_issued_by(ca), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    _write(directory / "cert.pem", key, certificate)
    (directory / "ca.pem").write_bytes(trusted.ca_pem.read_bytes())
    return directory
