"""Real mailboxes and relays speak TLS: mailflow reads over IMAPS / IMAP+STARTTLS and sends
over SMTP STARTTLS / implicit TLS to a private Dovecot and aiosmtpd with a certificate from a
throwaway CA — verified against ``cafile``, never with verification turned off."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailflow.clock import SystemClock
from mailflow.config import MailboxSettings, Settings, SmtpSettings, StorageSettings
from mailflow.errors import SourceError
from mailflow.service import Service
from mailflow_testing import Dovecot, SmtpServer, mailbuild
from tests.stack import SERVICE, SERVICE_PW

SENDER = "zhang.wei@example.test"
Security = Literal["tls", "starttls", "none"]


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    root = tmp_path_factory.mktemp("tls")
    root.chmod(0o755)  # Dovecot reads the files as root, its login processes never do
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name("mailflow test CA"))
        .issuer_name(_name("mailflow test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(root / "ca.pem", root / "server.pem", root / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    for path in (paths.ca, paths.cert, paths.key):
        path.chmod(0o644)
    return paths


@pytest.fixture(scope="module")
def tls_dovecot(certificates: Certificates) -> Iterator[Dovecot]:
    with Dovecot({SERVICE: SERVICE_PW, SENDER: "pw"},
                 tls=(certificates.cert, certificates.key)) as dovecot:
        yield dovecot


def _settings(dovecot: Dovecot, smtp: SmtpServer, tmp_path: Path, imap: Security,
              smtp_security: Security, cafile: Path | None) -> Settings:
    return Settings.model_validate({
        "mailbox": MailboxSettings(
            source="imap", host=dovecot.host, security=imap, cafile=cafile,
            port=dovecot.imaps_port if imap == "tls" else dovecot.imap_port,
            username=SERVICE, password=SERVICE_PW, timeout_seconds=10,
        ),
        "smtp": SmtpSettings(
            host=smtp.host, port=smtp.port, security=smtp_security, cafile=cafile,
            from_address=SERVICE, retry_base_seconds=0.5, retry_max_seconds=2,
            timeout_seconds=5,
        ),
        "storage": StorageSettings(database_url=f"sqlite:///{tmp_path}/mailflow.db",
                                   data_dir=tmp_path / "data"),
    })


@pytest.mark.parametrize(("imap", "smtp_security"), [("tls", "starttls"), ("starttls", "tls")])
def test_mail_read_and_answered_over_tls_verified_against_cafile(
    tls_dovecot: Dovecot, certificates: Certificates, tmp_path: Path, imap: Security,
    smtp_security: Security,
) -> None:
    tls_dovecot.reset()
    context = certificates.server_context()
    smtp = (SmtpServer(starttls=context) if smtp_security == "starttls"
            else SmtpServer(implicit_tls=context))
    tls_dovecot.append(SERVICE, mailbuild.human_mail(
        sender=SENDER, to=SERVICE, subject="请开通OA帐号", body="谢谢"))
    with smtp:
        service = Service(_settings(tls_dovecot, smtp, tmp_path, imap, smtp_security,
                                    certificates.ca), SystemClock())
        try:
            report = service.run_once()
        finally:
            service.close()
        (reply,) = smtp.wait_for(1)
    assert report.intake.taken_in == 1 and report.delivery.sent == 1
    assert reply.rcpt_tos == (SENDER,)
    assert b"REQ-" in reply.data
    assert tls_dovecot.count(SERVICE) == 0  # moved to the processed folder


def test_an_untrusted_certificate_is_refused_not_ignored(
    tls_dovecot: Dovecot, certificates: Certificates, tmp_path: Path
) -> None:
    """Without the CA in ``cafile`` the system store does not know the certificate: reading
    stops with an error naming it, and no mail is taken or moved."""
    tls_dovecot.reset()
    tls_dovecot.append(SERVICE, mailbuild.human_mail(
        sender=SENDER, to=SERVICE, subject="测试", body="正文"))
    with SmtpServer(starttls=certificates.server_context()) as smtp:
        service = Service(_settings(tls_dovecot, smtp, tmp_path, "tls", "starttls", None),
                          SystemClock())
        try:
            with pytest.raises(SourceError, match=r"(?i)certificate"):
                service.run_once()
        finally:
            service.close()
        assert smtp.messages == []
    assert tls_dovecot.count(SERVICE) == 1
