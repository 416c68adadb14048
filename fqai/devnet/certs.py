"""Local development TLS certificates for Flower's SuperLink, and a TLS pre-check.

Flower's SuperLink serves TLS from a certificate and key (``--ssl-certfile``, ``--ssl-keyfile``,
``--ssl-ca-certfile``); SuperNodes and the ``flwr`` CLI verify it against a root CA PEM. For
local development and tests this module makes a small certificate authority (:func:`create_ca`)
and issues server certificates from it (:func:`issue_host_certificate`). It is not a PKI: in
production operators bring their own certificates.

:func:`check_server_tls` works with either kind: it connects to a server the way a SuperNode
would (trusting only the given CA file and checking the host name or IP address) and says in
plain words why a handshake fails: nothing listening, expired certificate, wrong CA, wrong host,
or a server that does not speak TLS at all.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fqai.errors import FqaiError
from fqai.fsutil import write_bytes_atomic

log = logging.getLogger(__name__)

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700
MAX_DAYS = 3650
# New certificates start a little in the past so a peer whose clock lags accepts them at once.
CLOCK_SKEW = timedelta(minutes=5)

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_RESERVED_NAMES = frozenset({"ca"})
_PEM = serialization.Encoding.PEM

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) reported in SSLCertVerificationError.verify_code.
_NOT_YET_VALID = 9
_EXPIRED = 10
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21})
_HOST_MISMATCH_CODES = frozenset({62, 64})
# OpenSSL reasons seen when the peer answers a ClientHello with something that is not TLS.
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "UNEXPECTED_RECORD",
    }
)
_CLIENT_CERT_REASONS = frozenset(
    {"TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE"}
)
_VERSION_REASONS = frozenset(
    {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"}
)

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class TlsError(FqaiError):
    """A certificate cannot be created or loaded, or a TLS server fails the pre-check."""


@dataclass(frozen=True)
class CertificateAuthority:
    """Paths of a CA certificate (PEM) and its unencrypted private key (PEM, mode 0600)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class HostCertificate:
    """A server certificate issued by a local CA, with the files a TLS server needs."""

    cert: Path
    key: Path
    ca: Path
    hosts: tuple[str, ...]
    not_after: datetime


@dataclass(frozen=True)
class ServerCertificate:
    """What a verified TLS server presented: subject, issuer, names and expiry (UTC)."""

    subject: str
    issuer: str
    hosts: tuple[str, ...]
    not_after: datetime


@dataclass(frozen=True)
class _Target:
    """One TLS check: where to connect, what to trust, which name to verify."""

    host: str
    port: int
    ca_file: Path
    ca_certs: tuple[x509.Certificate, ...]
    server_name: str
    timeout: float

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)


# --- certificate authority ------------------------------------------------------------------


def create_ca(
    directory: Path, *, name: str = "fqai local CA", days: int = 30
) -> CertificateAuthority:
    """Create a local CA in ``directory`` (``ca.pem``, ``ca.key``), or reuse the one there.

    The CA has an EC P-256 key and a self-signed certificate that may sign server certificates
    only (``pathLen`` 0). If ``ca.pem`` or ``ca.key`` already exists, the CA is loaded with
    :func:`load_ca` instead, so host certificates issued later chain to the same root.

    Raises
    ------
    TlsError
        ``name`` or ``days`` is invalid, the existing CA is unusable or expired, or the files
        cannot be written.
    """
    directory = Path(directory)
    ca = CertificateAuthority(cert=directory / CA_CERT_FILE, key=directory / CA_KEY_FILE)
    if ca.cert.exists() or ca.key.exists():
        _require_ca_files(ca)
        _check_ca_current(ca.cert, _load_ca_material(ca)[0])
        log.info("reusing the CA in %s", directory)
        return ca
    _check_days(days)
    if not name.strip() or len(name) > 64:
        raise TlsError(f"CA name {name!r} must be 1 to 64 characters and not blank")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _ca_certificate(key, name, days)
    _ensure_directory(directory)
    _write_key(ca.key, key)  # the key first: a ca.pem on disk always has its key next to it
    _write_file(ca.cert, cert.public_bytes(_PEM), CERT_MODE)
    log.info("created CA %r in %s", name, directory)
    return ca


def load_ca(directory: Path) -> CertificateAuthority:
    """Load and check the CA in ``directory`` (``ca.pem`` and ``ca.key``).

    Raises
    ------
    TlsError
        A file is missing or unreadable, is not PEM, the certificate is not a CA, the key is
        encrypted or readable by group/others, or the key does not belong to the certificate.
    """
    directory = Path(directory)
    ca = CertificateAuthority(cert=directory / CA_CERT_FILE, key=directory / CA_KEY_FILE)
    _require_ca_files(ca)
    _load_ca_material(ca)
    return ca


def _require_ca_files(ca: CertificateAuthority) -> None:
    for path in (ca.cert, ca.key):
        if not path.is_file():
            raise TlsError(
                f"no usable CA in {path.parent}: {path.name} is missing (remove the other CA "
                "file, then create a new CA with `fqai devnet certs`)"
            )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, name: str, days: int) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = _now() - CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _load_ca_material(ca: CertificateAuthority) -> tuple[x509.Certificate, SigningKey]:
    cert = _load_certificate(ca.cert)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise TlsError(f"{ca.cert} is not a CA certificate (no BasicConstraints CA:TRUE)")
    key = _load_private_key(ca.key)
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise TlsError(f"CA key {ca.key} does not belong to the CA certificate {ca.cert}")
    return cert, key


def _check_ca_current(path: Path, cert: x509.Certificate) -> None:
    expiry = cert.not_valid_after_utc
    if expiry <= _now():
        raise TlsError(
            f"the CA certificate {path} expired on {format_time(expiry)}; remove {path.name} "
            f"and {CA_KEY_FILE} in {path.parent} to create a new CA (and reissue host certificates)"
        )


# --- host certificates ----------------------------------------------------------------------


def issue_host_certificate(
    ca: CertificateAuthority,
    directory: Path,
    name: str,
    hosts: Sequence[str],
    *,
    days: int = 30,
    not_before: datetime | None = None,
) -> HostCertificate:
    """Issue a TLS server certificate for ``hosts`` and write ``<name>.pem``/``<name>.key``.

    Each host that parses as an IP address becomes an ``IPAddress`` subjectAltName, any other a
    ``DNSName`` (a leading ``*.`` wildcard is allowed). The certificate is valid from
    ``not_before`` (default: now, less a few minutes of clock skew) for ``days`` days, but never
    past the CA's own expiry. An existing certificate of the same name is replaced.

    Raises
    ------
    TlsError
        ``name``, ``hosts``, ``days`` or ``not_before`` is invalid, the CA is unusable or
        expired, or the files cannot be written.
    """
    _check_name(name)
    _check_days(days)
    names = _parse_hosts(hosts)
    ca_cert, ca_key = _load_ca_material(ca)
    _check_ca_current(ca.cert, ca_cert)
    start, end = _validity(ca_cert, days, not_before)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _host_certificate(ca_cert, ca_key, key, name, [general for _, general in names])
    cert = builder.not_valid_before(start).not_valid_after(end).sign(ca_key, hashes.SHA256())
    directory = Path(directory)
    issued = HostCertificate(
        cert=directory / f"{name}.pem",
        key=directory / f"{name}.key",
        ca=ca.cert,
        hosts=tuple(text for text, _ in names),
        not_after=cert.not_valid_after_utc,
    )
    _ensure_directory(directory)
    _write_key(issued.key, key)
    _write_file(issued.cert, cert.public_bytes(_PEM), CERT_MODE)
    log.info("issued %s for %s, valid until %s", issued.cert, issued.hosts, issued.not_after)
    return issued


def _host_certificate(
    ca_cert: x509.Certificate,
    ca_key: SigningKey,
    key: ec.EllipticCurvePrivateKey,
    name: str,
    alt_names: list[x509.GeneralName],
) -> x509.CertificateBuilder:
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert, ca_key), critical=False)
    )


def _authority_key_id(ca_cert: x509.Certificate, ca_key: SigningKey) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _validity(
    ca_cert: x509.Certificate, days: int, not_before: datetime | None
) -> tuple[datetime, datetime]:
    if not_before is not None and not_before.tzinfo is None:
        raise TlsError(f"not_before {not_before.isoformat()} must carry a time zone (use UTC)")
    start = not_before.astimezone(UTC) if not_before is not None else _now() - CLOCK_SKEW
    end = start + timedelta(days=days)
    ca_end = ca_cert.not_valid_after_utc
    if end > ca_end:
        # A host certificate cannot outlive its CA; a few seconds' difference is the default case.
        if end - ca_end > timedelta(hours=1):
            log.warning(
                "%d days requested, but the CA expires earlier: certificate valid until %s",
                days,
                format_time(ca_end),
            )
        end = ca_end
    if end <= start:
        raise TlsError(
            f"certificate would start at {format_time(start)}, after the CA expires "
            f"({format_time(ca_end)})"
        )
    return start, end


def _parse_hosts(hosts: Sequence[str]) -> list[tuple[str, x509.GeneralName]]:
    if isinstance(hosts, str):
        raise TlsError(f"hosts must be a list of names, not the single string {hosts!r}")
    if not hosts:
        raise TlsError("a host certificate needs at least one host (a DNS name or an IP address)")
    parsed: dict[str, x509.GeneralName] = {}
    for host in hosts:
        text, general = _parse_host(host)
        parsed.setdefault(text, general)
    return list(parsed.items())


def _parse_host(host: str) -> tuple[str, x509.GeneralName]:
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            raise TlsError(f"host {host!r}: an IPv6 zone (%{ip.scope_id}) cannot be certified")
        return str(ip), x509.IPAddress(ip)
    name = text.lower()
    if not _is_dns_name(name):
        raise TlsError(
            f"host {host!r} is neither an IP address nor a DNS name (ASCII letters, digits, '-' "
            "and '.', optionally starting with '*.')"
        )
    return name, x509.DNSName(name)


def _is_dns_name(name: str) -> bool:
    labels = name.split(".")
    if len(labels) > 1 and labels[0] == "*":
        labels = labels[1:]
    if len(name) > 253 or labels[-1].isdigit():
        return False
    return all(_DNS_LABEL_RE.fullmatch(label) for label in labels)


# --- TLS pre-check --------------------------------------------------------------------------


def check_server_tls(
    host: str,
    port: int,
    ca_file: Path,
    *,
    server_name: str | None = None,
    timeout: float = 5.0,
) -> None:
    """Check that ``host:port`` completes a TLS handshake a client trusting ``ca_file`` accepts.

    Only the certificates in ``ca_file`` are trusted, and the server certificate must be valid
    for ``server_name`` (default ``host``; a DNS name or an IP address).

    Raises
    ------
    TlsError
        The CA file is unusable, or the check fails; the message names the address and the CA
        file and says why (refused, timed out, expired, wrong CA, wrong host, not TLS ...).
    """
    inspect_server_tls(host, port, ca_file, server_name=server_name, timeout=timeout)


def inspect_server_tls(
    host: str,
    port: int,
    ca_file: Path,
    *,
    server_name: str | None = None,
    timeout: float = 5.0,
) -> ServerCertificate:
    """Like :func:`check_server_tls`, and describe the certificate the server presented."""
    if not 0 < port < 65536:
        raise TlsError(f"port {port} of {host!r} is not a TCP port (1-65535)")
    if timeout <= 0:
        raise TlsError(f"timeout must be positive, got {timeout}")
    ca_file = Path(ca_file)
    ca_pem, ca_certs = _read_ca_file(ca_file)
    target = _Target(host, port, ca_file, ca_certs, server_name or host, timeout)
    context = _client_context(target, ca_pem)
    der = _handshake(_connect(target), context, target)
    return _describe(x509.load_der_x509_certificate(der))


def parse_host_port(address: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[IPv6]:PORT`` for IPv6) into host and port."""
    host, sep, port_text = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TlsError(f"address {address!r} is not HOST:PORT (e.g. 127.0.0.1:9092, [::1]:9092)")
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_time(moment: datetime) -> str:
    """A UTC time as operators read it: ``2026-05-09 07:35:25 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _read_ca_file(ca_file: Path) -> tuple[str, tuple[x509.Certificate, ...]]:
    try:
        data = ca_file.read_bytes()
    except FileNotFoundError as exc:
        raise TlsError(f"CA file {ca_file} not found") from exc
    except OSError as exc:
        raise TlsError(f"cannot read CA file {ca_file}: {exc.strerror or exc}") from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsError(
            f"CA file {ca_file} holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----')"
        ) from exc
    return data.decode("ascii", errors="replace"), tuple(certs)


def _client_context(target: _Target, ca_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2", "http/1.1"])  # gRPC servers (the SuperLink) expect h2
    try:
        context.load_verify_locations(cadata=ca_pem)
    except ssl.SSLError as exc:
        raise TlsError(f"OpenSSL rejects the CA file {target.ca_file}: {exc}") from exc
    return context


def _connect(target: _Target) -> socket.socket:
    try:
        return socket.create_connection((target.host, target.port), timeout=target.timeout)
    except socket.gaierror as exc:
        raise _failure(target, f"cannot resolve {target.host!r}: {exc.strerror}") from exc
    except ConnectionRefusedError as exc:
        raise _failure(
            target, "connection refused: nothing listens on that port (is the server running?)"
        ) from exc
    except TimeoutError as exc:
        raise _failure(
            target,
            f"connection timed out after {target.timeout:g} s (host down, or a firewall drops "
            "the packets?)",
        ) from exc
    except OSError as exc:
        raise _failure(target, f"cannot connect: {exc.strerror or exc}") from exc


def _handshake(sock: socket.socket, context: ssl.SSLContext, target: _Target) -> bytes:
    try:
        with sock, context.wrap_socket(sock, server_hostname=target.server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise _verification_error(target, exc) from exc
    except ssl.SSLError as exc:
        raise _handshake_error(target, exc) from exc
    except TimeoutError as exc:
        raise _failure(
            target,
            f"no TLS answer within {target.timeout:g} s after connecting: the server does not "
            "speak TLS on this port (a plaintext or --insecure server?)",
        ) from exc
    except ConnectionResetError as exc:
        raise _failure(
            target,
            "the server reset the connection during the TLS handshake: it does not speak TLS on "
            "this port (a plaintext or --insecure server?)",
        ) from exc
    except OSError as exc:
        raise _failure(target, f"TLS handshake failed: {exc.strerror or exc}") from exc
    if der is None:
        raise _failure(target, "the server presented no certificate")
    return der


def _failure(target: _Target, detail: str) -> TlsError:
    return TlsError(f"TLS check of {target.address} (CA file {target.ca_file}) failed: {detail}")


def _verification_error(target: _Target, exc: ssl.SSLCertVerificationError) -> TlsError:
    code = exc.verify_code
    if code == _EXPIRED:
        return _expired_error(target)
    if code == _NOT_YET_VALID:
        leaf = _peek_certificate(target)
        when = f" (from {format_time(leaf.not_valid_before_utc)})" if leaf else ""
        return _failure(target, f"the server certificate is not valid yet{when}; check clocks")
    if code in _HOST_MISMATCH_CODES:
        return _host_error(target)
    if code in _UNTRUSTED_CODES:
        return _untrusted_error(target)
    return _failure(target, f"certificate verification failed: {exc.verify_message}")


def _expired_error(target: _Target) -> TlsError:
    leaf = _peek_certificate(target)
    now = _now()
    if leaf is not None and leaf.not_valid_after_utc <= now:
        return _failure(
            target,
            f"the server certificate ({_subject(leaf)}) expired on "
            f"{format_time(leaf.not_valid_after_utc)}; issue a new one",
        )
    for ca_cert in target.ca_certs:
        if ca_cert.not_valid_after_utc <= now:
            return _failure(
                target,
                f"the CA certificate {_subject(ca_cert)} in the CA file expired on "
                f"{format_time(ca_cert.not_valid_after_utc)}",
            )
    return _failure(target, "a certificate in the server's chain has expired")


def _host_error(target: _Target) -> TlsError:
    leaf = _peek_certificate(target)
    names = ", ".join(_alt_names(leaf)) if leaf is not None else ""
    valid_for = f"; it is valid for {names or 'no subjectAltName'}" if leaf is not None else ""
    return _failure(
        target, f"the server certificate is not valid for {target.server_name!r}{valid_for}"
    )


def _untrusted_error(target: _Target) -> TlsError:
    leaf = _peek_certificate(target)
    cas = "; ".join(_subject(cert) for cert in target.ca_certs)
    if leaf is None:
        what = "the server certificate"
    else:
        issuer = leaf.issuer.rfc4514_string()
        what = f"the server certificate ({_subject(leaf)}, issued by {issuer})"
    hint = ""
    if leaf is not None and any(cert.subject == leaf.issuer for cert in target.ca_certs):
        hint = "; it is a different CA with the same name (was the CA recreated?)"
    return _failure(target, f"{what} is not signed by the CA in the CA file ({cas}){hint}")


def _handshake_error(target: _Target, exc: ssl.SSLError) -> TlsError:
    reason = exc.reason or ""
    if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
        detail = (
            "the server closed the connection during the TLS handshake: it does not speak TLS "
            "on this port (a plaintext or --insecure server?), or it refused this client"
        )
    elif reason in _NOT_TLS_REASONS:
        detail = (
            f"the server answered with something that is not TLS ({reason}): it does not speak "
            "TLS on this port (plain HTTP, or a plaintext/--insecure server?)"
        )
    elif reason in _CLIENT_CERT_REASONS:
        detail = "the server requires a client certificate (mutual TLS); this check sends none"
    elif reason in _VERSION_REASONS:
        detail = f"no TLS version in common with the server (TLS 1.2 or newer needed; {reason})"
    else:
        detail = f"TLS handshake failed: {reason or exc}"
    return _failure(target, detail)


def _peek_certificate(target: _Target) -> x509.Certificate | None:
    """The server's certificate from a second handshake without verification, if any."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((target.host, target.port), timeout=target.timeout) as sock,
            context.wrap_socket(sock, server_hostname=target.server_name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der) if der else None
    except (OSError, ValueError):
        return None


def _describe(cert: x509.Certificate) -> ServerCertificate:
    return ServerCertificate(
        subject=_subject(cert),
        issuer=cert.issuer.rfc4514_string(),
        hosts=_alt_names(cert),
        not_after=cert.not_valid_after_utc,
    )


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "empty subject"


def _alt_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


# --- files and small checks -----------------------------------------------------------------


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read certificate {path}: {exc.strerror or exc}") from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise TlsError(f"{path} is not a PEM certificate: {exc}") from exc


def _load_private_key(path: Path) -> SigningKey:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read private key {path}: {exc.strerror or exc}") from exc
    if mode & 0o077:
        raise TlsError(
            f"private key {path} has mode {mode:04o}; it must not be readable by group or "
            "others (chmod 600)"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise TlsError(f"private key {path} is encrypted; a local CA key must be plain") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TlsError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TlsError(f"private key {path} is {type(key).__name__}; expected an EC or RSA key")
    return key


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_file(path, pem, KEY_MODE)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Atomic write; the temporary file is created 0600, so a key is never readable by others."""
    try:
        write_bytes_atomic(path, data, mode)
    except OSError as exc:
        raise TlsError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _ensure_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise TlsError(f"cannot create directory {directory}: {exc.strerror or exc}") from exc
    if not directory.is_dir():
        raise TlsError(f"{directory} is not a directory")


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name) or name.lower() in _RESERVED_NAMES:
        raise TlsError(
            f"certificate name {name!r} must be 1-64 characters of letters, digits, '.', '_' "
            "and '-', start with a letter or digit, and not be 'ca' (the CA's files)"
        )


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise TlsError(f"validity of {days} days is out of range (1 to {MAX_DAYS})")


def _key_usage(*, key_cert_sign: bool = False, digital_signature: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _public_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _now() -> datetime:
    return datetime.now(UTC)
