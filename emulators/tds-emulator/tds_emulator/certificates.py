"""Server certificates for the emulator's TLS: a self-signed one made at start, or one issued by a test CA.

    ca = CertificateAuthority.create(tmp_path)                  # a CA of your own, for "untrusted" tests
    cert = ca.issue(["db.example.test"], tmp_path / "wrong")    # a server certificate for another host name
    SqlServerEmulator({..., "encryption": "on", "certificate": cert.as_catalog()})
    # clients trust ca.cert_file (FreeTDS "ca file", pytds cafile=...)

Keys are ECDSA P-256: made in milliseconds, and accepted by GnuTLS (FreeTDS), OpenSSL (pytds, Microsoft's
ODBC driver) and Python's ssl. Needs the ``cryptography`` package.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class ServerCertificate:
    """A PEM certificate and its PEM private key on disk (what ``ssl.SSLContext.load_cert_chain`` takes)."""

    cert_file: Path
    key_file: Path

    def as_catalog(self) -> dict[str, str]:
        """The catalog's ``"certificate"`` value for this certificate."""
        return {"cert_file": str(self.cert_file), "key_file": str(self.key_file)}


def _names(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    """subjectAltName entries: a DNS name per host name; an IP address also as a DNS name, since Microsoft's
    ODBC driver matches an address given as server name against DNS entries only (checked with 18.6)."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hostnames):  # de-duplicated, order kept
        names.append(x509.DNSName(host))
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            pass
    return names


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> ServerCertificate:
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ServerCertificate(cert_file, key_file)


def _build(subject: x509.Name, issuer: x509.Name, public_key, signing_key, *, ca: bool,
           hostnames: Sequence[str] = ()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(_names(hostnames)), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tds-emulator")])


def self_signed(hostnames: Sequence[str], directory: str | Path, stem: str = "server") -> ServerCertificate:
    """A self-signed server certificate: CN = the first host name, subjectAltName = all of them (IP
    addresses as IP entries). It is its own trust anchor: a client trusts it by taking ``cert_file`` as CA
    file. SQL Server does the same when no certificate is configured (it makes a self-signed one at start)."""
    if not hostnames:
        raise ValueError("at least one host name is needed")
    key = ec.generate_private_key(ec.SECP256R1())
    name = _subject(hostnames[0])
    cert = _build(name, name, key.public_key(), key, ca=False, hostnames=hostnames)
    return _write(Path(directory), stem, cert, key)


@dataclass(frozen=True)
class CertificateAuthority:
    """A test CA: ``cert_file`` is what clients are given as CA file; ``issue`` signs server certificates."""

    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, directory: str | Path, name: str = "tds-emulator test CA") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _subject(name)
        cert = _build(subject, subject, key.public_key(), key, ca=True)
        written = _write(Path(directory), "ca", cert, key)
        return cls(written.cert_file, written.key_file)

    def issue(self, hostnames: Sequence[str], directory: str | Path, stem: str = "server") -> ServerCertificate:
        """A server certificate for ``hostnames`` (CN = the first), signed by this CA."""
        if not hostnames:
            raise ValueError("at least one host name is needed")
        ca_cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        ca_key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _build(_subject(hostnames[0]), ca_cert.subject, key.public_key(), ca_key, ca=False,
                      hostnames=hostnames)
        return _write(Path(directory), stem, cert, key)
