"""Local TLS certificates (``fqai.devnet.certs``) against real TLS, HTTP and gRPC servers."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import socketserver
import ssl
import stat
import threading
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from typer.testing import CliRunner

from fqai.cli import app
from fqai.devnet.certs import (
    CertificateAuthority,
    HostCertificate,
    TlsError,
    check_server_tls,
    create_ca,
    inspect_server_tls,
    issue_host_certificate,
    load_ca,
    parse_host_port,
)
from fqai.devnet.tools import free_port
from fqai.errors import FqaiError

runner = CliRunner()
LOOPBACK = "127.0.0.1"


# --- servers ------------------------------------------------------------------------------


class _TlsHandler(socketserver.BaseRequestHandler):
    """Complete the handshake (or fail it), then wait for the client to hang up."""

    server: _TlsServer

    def handle(self) -> None:
        self.request.settimeout(5)
        with (
            contextlib.suppress(OSError),
            self.server.context.wrap_socket(self.request, server_side=True) as tls,
        ):
            tls.recv(1)


class _TlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__((LOOPBACK, 0), _TlsHandler)
        self.context = context


class _QuietHttpHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _running(server: socketserver.TCPServer) -> Iterator[int]:
    """Serve in a thread; always stop and close the server. Yields the port."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def tls_server(issued: HostCertificate) -> Iterator[int]:
    """A real TLS server on 127.0.0.1 presenting ``issued``; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert, issued.key)
    with _running(_TlsServer(context)) as port:
        yield port


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return create_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def good(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> HostCertificate:
    return issue_host_certificate(
        ca, tmp_path_factory.mktemp("good"), "superlink", ["127.0.0.1", "LocalHost", "::1"]
    )


# --- certificate contents -----------------------------------------------------------------


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_ca_certificate_extensions(ca: CertificateAuthority) -> None:
    cert = _load(ca.cert)
    assert cert.subject == cert.issuer
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def test_host_certificate_sans_and_extensions(
    ca: CertificateAuthority, good: HostCertificate
) -> None:
    assert good.hosts == ("127.0.0.1", "localhost", "::1")
    assert good.ca == ca.cert
    assert (good.cert.name, good.key.name) == ("superlink.pem", "superlink.key")
    cert = _load(good.cert)
    assert cert.not_valid_after_utc == good.not_after
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ip_address("127.0.0.1"), ip_address("::1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = _load(ca.cert).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    cert.verify_directly_issued_by(_load(ca.cert))


def test_key_files_are_private(ca: CertificateAuthority, good: HostCertificate) -> None:
    for key in (ca.key, good.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(ca.cert.parent.stat().st_mode) == 0o700
    assert not [p for p in ca.cert.parent.iterdir() if p.name.endswith(".tmp")]


def test_ca_is_reused(tmp_path: Path) -> None:
    first = create_ca(tmp_path)
    pem, key = first.cert.read_bytes(), first.key.read_bytes()
    second = create_ca(tmp_path, name="another name")
    assert second == first == load_ca(tmp_path)
    assert (first.cert.read_bytes(), first.key.read_bytes()) == (pem, key)
    a = issue_host_certificate(second, tmp_path, "a", ["a.test"])
    b = issue_host_certificate(second, tmp_path, "b", ["b.test"])
    assert _load(a.cert).issuer == _load(b.cert).issuer == _load(first.cert).subject


def test_load_ca_errors(tmp_path: Path, ca: CertificateAuthority, good: HostCertificate) -> None:
    with pytest.raises(TlsError, match=r"ca\.pem is missing"):
        load_ca(tmp_path)
    target = tmp_path / "broken"
    target.mkdir()
    (target / "ca.pem").write_bytes(ca.cert.read_bytes())
    with pytest.raises(TlsError, match=r"ca\.key is missing"):
        create_ca(target)  # half a CA is not silently replaced
    other = create_ca(tmp_path / "other")
    os.replace(other.key, target / "ca.key")
    with pytest.raises(TlsError, match="does not belong"):
        load_ca(target)
    (target / "ca.pem").write_bytes(good.cert.read_bytes())
    with pytest.raises(TlsError, match="not a CA certificate"):
        load_ca(target)
    (target / "ca.pem").write_text("garbage")
    with pytest.raises(TlsError, match="not a PEM certificate"):
        load_ca(target)
    (target / "ca.pem").write_bytes(ca.cert.read_bytes())
    os.chmod(target / "ca.key", 0o644)
    with pytest.raises(TlsError, match="chmod 600"):
        load_ca(target)


@pytest.mark.parametrize(
    ("name", "hosts", "message"),
    [
        ("ca", ["localhost"], "not be 'ca'"),
        ("../evil", ["localhost"], "certificate name"),
        ("", ["localhost"], "certificate name"),
        ("ok", [], "at least one host"),
        ("ok", "localhost", "not the single string"),
        ("ok", ["bad host!"], "neither an IP address nor a DNS name"),
        ("ok", ["999.1.1.1"], "neither an IP address nor a DNS name"),
    ],
)
def test_issue_rejects_bad_input(
    ca: CertificateAuthority, tmp_path: Path, name: str, hosts: list[str], message: str
) -> None:
    with pytest.raises(TlsError, match=message) as caught:
        issue_host_certificate(ca, tmp_path, name, hosts)
    assert isinstance(caught.value, FqaiError)
    assert not list(tmp_path.iterdir())


def test_strict_x509_verification_accepts_the_chain(good: HostCertificate) -> None:
    """Python 3.13 and newer verify with VERIFY_X509_STRICT by default; our certs must pass."""
    context = ssl.create_default_context(cafile=str(good.ca))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with (
        tls_server(good) as port,
        socket.create_connection((LOOPBACK, port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


# --- check_server_tls against real servers ------------------------------------------------


def test_good_certificate_passes(good: HostCertificate) -> None:
    with tls_server(good) as port:
        check_server_tls(LOOPBACK, port, good.ca)
        check_server_tls(LOOPBACK, port, good.ca, server_name="localhost")
        info = inspect_server_tls(LOOPBACK, port, good.ca)
    assert info.subject == "CN=superlink"
    assert info.not_after == good.not_after
    assert set(info.hosts) == {"127.0.0.1", "localhost", "::1"}


def test_expired_certificate(ca: CertificateAuthority, tmp_path: Path) -> None:
    expired = issue_host_certificate(
        ca, tmp_path, "old", ["127.0.0.1"], days=1, not_before=datetime.now(UTC) - timedelta(10)
    )
    with tls_server(expired) as port, pytest.raises(TlsError) as caught:
        check_server_tls(LOOPBACK, port, ca.cert)
    message = str(caught.value)
    assert "expired on" in message
    assert expired.not_after.strftime("%Y-%m-%d %H:%M:%S") in message
    assert f"{LOOPBACK}:{port}" in message and str(ca.cert) in message


def test_certificate_not_valid_yet(ca: CertificateAuthority, tmp_path: Path) -> None:
    future = issue_host_certificate(
        ca, tmp_path, "future", ["127.0.0.1"], days=1, not_before=datetime.now(UTC) + timedelta(1)
    )
    with tls_server(future) as port, pytest.raises(TlsError, match=r"not valid yet.*check clocks"):
        check_server_tls(LOOPBACK, port, ca.cert)


def test_certificate_from_another_ca(ca: CertificateAuthority, tmp_path: Path) -> None:
    other = create_ca(tmp_path / "other", name="someone else's CA")
    foreign = issue_host_certificate(other, tmp_path, "foreign", ["127.0.0.1"])
    with tls_server(foreign) as port, pytest.raises(TlsError) as caught:
        check_server_tls(LOOPBACK, port, ca.cert)
    message = str(caught.value)
    assert "not signed by the CA" in message and "someone else's CA" in message
    assert str(ca.cert) in message


def test_certificate_for_another_address(ca: CertificateAuthority, tmp_path: Path) -> None:
    elsewhere = issue_host_certificate(ca, tmp_path, "elsewhere", ["127.0.0.2", "node.test"])
    with tls_server(elsewhere) as port:
        with pytest.raises(TlsError, match=r"not valid for '127\.0\.0\.1'.*127\.0\.0\.2"):
            check_server_tls(LOOPBACK, port, ca.cert)
        with pytest.raises(TlsError, match=r"not valid for 'other\.test'.*node\.test"):
            check_server_tls(LOOPBACK, port, ca.cert, server_name="other.test")
        check_server_tls(LOOPBACK, port, ca.cert, server_name="node.test")


def test_plain_http_server_is_not_tls(ca: CertificateAuthority) -> None:
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _QuietHttpHandler)
    server.daemon_threads = True
    with _running(server) as port, pytest.raises(TlsError, match="does not speak TLS"):
        check_server_tls(LOOPBACK, port, ca.cert, timeout=3)


def test_plaintext_grpc_server_is_not_tls(ca: CertificateAuthority) -> None:
    """What a SuperNode meets at a SuperLink started with --insecure."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port(f"{LOOPBACK}:0")
    server.start()
    try:
        with pytest.raises(TlsError, match="does not speak TLS"):
            check_server_tls(LOOPBACK, port, ca.cert, timeout=3)
    finally:
        server.stop(grace=None)


def test_grpc_tls_server_and_client_accept_the_certificates(good: HostCertificate) -> None:
    """gRPC (what Flower runs on) serves the EC key and its client verifies the IP SAN."""
    credentials = grpc.ssl_server_credentials([(good.key.read_bytes(), good.cert.read_bytes())])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_secure_port(f"{LOOPBACK}:0", credentials)
    server.start()
    try:
        check_server_tls(LOOPBACK, port, good.ca)
        client = grpc.ssl_channel_credentials(root_certificates=good.ca.read_bytes())
        with grpc.secure_channel(f"{LOOPBACK}:{port}", client) as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
    finally:
        server.stop(grace=None)


def test_silent_server_times_out(ca: CertificateAuthority) -> None:
    """A listener that never answers: the TCP connection opens, no TLS reply ever comes."""
    with socket.create_server((LOOPBACK, 0)) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(TlsError, match=r"no TLS answer within 0\.3 s.*does not speak TLS"):
            check_server_tls(LOOPBACK, port, ca.cert, timeout=0.3)


def test_refused_port(ca: CertificateAuthority) -> None:
    port = free_port()
    with pytest.raises(TlsError, match=rf"{LOOPBACK}:{port}.*connection refused"):
        check_server_tls(LOOPBACK, port, ca.cert)


def test_bad_ca_file(tmp_path: Path, good: HostCertificate) -> None:
    with pytest.raises(TlsError, match=r"CA file .* not found"):
        check_server_tls(LOOPBACK, 1, tmp_path / "missing.pem")
    with pytest.raises(TlsError, match="holds no PEM certificate"):
        check_server_tls(LOOPBACK, 1, good.key)


def test_parse_host_port() -> None:
    assert parse_host_port("127.0.0.1:9092") == ("127.0.0.1", 9092)
    assert parse_host_port("[::1]:9093") == ("::1", 9093)
    assert parse_host_port("superlink.test:443") == ("superlink.test", 443)
    for bad in ("127.0.0.1", ":9092", "host:0", "host:http", "host:70000"):
        with pytest.raises(TlsError, match="not HOST:PORT"):
            parse_host_port(bad)


# --- CLI ----------------------------------------------------------------------------------


def test_cli_certs_and_check_tls(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    args = ["devnet", "certs", "--out", str(out), "--host", "127.0.0.1", "--host", "localhost"]
    result = runner.invoke(app, [*args, "--days", "7"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["ca"] == str(out.resolve() / "ca.pem")
    assert payload["cert"] == str(out.resolve() / "superlink.pem")
    assert payload["key"] == str(out.resolve() / "superlink.key")
    assert payload["hosts"] == ["127.0.0.1", "localhost"]
    not_after = datetime.fromisoformat(payload["not_after"])
    assert timedelta(days=6) < not_after - datetime.now(UTC) <= timedelta(days=7)
    assert stat.S_IMODE(Path(payload["key"]).stat().st_mode) == 0o600
    ca_pem = Path(payload["ca"]).read_bytes()

    again = runner.invoke(app, [*args[:3], str(out), "--name", "node2", "--host", "node2.test"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output.strip().splitlines()[-1])["hosts"] == ["node2.test"]
    assert Path(payload["ca"]).read_bytes() == ca_pem

    issued = HostCertificate(
        cert=Path(payload["cert"]),
        key=Path(payload["key"]),
        ca=Path(payload["ca"]),
        hosts=tuple(payload["hosts"]),
        not_after=not_after,
    )
    with tls_server(issued) as port:
        check = ["devnet", "check-tls", f"{LOOPBACK}:{port}", "--ca", payload["ca"]]
        ok = runner.invoke(app, check)
        assert ok.exit_code == 0, ok.output
        assert ok.output.startswith(f"TLS ok: CN=superlink, valid until {not_after:%Y-%m-%d}")
        wrong = runner.invoke(app, [*check, "--server-name", "elsewhere.test"])
    assert wrong.exit_code == 1 and "not valid for 'elsewhere.test'" in wrong.output


def test_cli_certs_requires_a_host_and_a_valid_name(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["devnet", "certs", "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "--host" in missing.output
    bad = runner.invoke(
        app, ["devnet", "certs", "--out", str(tmp_path), "--name", "ca", "--host", "x.test"]
    )
    assert bad.exit_code == 1 and "certificate name" in bad.output
