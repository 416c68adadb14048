"""Where and how to reach the IPFS HTTP API: address, credentials, timeouts.

Every value has a default and can be set in the environment, so that each process that talks to
IPFS (CLI commands, federation server and client apps, which inherit their parent's environment)
picks up the same configuration:

``FQAI_IPFS_API``
    Multiaddr of the daemon's RPC API (default: the running devnet, else
    ``/ip4/127.0.0.1/tcp/5001/http``).
``FQAI_IPFS_AUTH_FILE``
    Path of a file whose content (surrounding whitespace stripped) is sent as the value of the
    ``Authorization`` header, e.g. ``Bearer <token>`` or ``Basic <base64 of user:password>``.
    The secret stays in the file: it is never put in a command line, a log or an error message.
``FQAI_IPFS_TIMEOUT``
    Seconds allowed for connecting and for each read (a number > 0; default 30).
``FQAI_IPFS_RETRIES``
    Extra attempts after a connection failure (a whole number >= 0; default 2).
"""

from __future__ import annotations

import logging
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fqai.errors import IpfsError

log = logging.getLogger(__name__)

DEFAULT_API = "/ip4/127.0.0.1/tcp/5001/http"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 2

API_ENV = "FQAI_IPFS_API"
AUTH_FILE_ENV = "FQAI_IPFS_AUTH_FILE"
TIMEOUT_ENV = "FQAI_IPFS_TIMEOUT"
RETRIES_ENV = "FQAI_IPFS_RETRIES"

AUTH_HEADER = "Authorization"
MAX_AUTH_FILE_SIZE = 16 * 1024

_warned: set[str] = set()


def warn_once(message: str, *args: object) -> None:
    """Log a configuration warning once per process (clients are created often)."""
    text = message % args
    if text not in _warned:
        _warned.add(text)
        log.warning("%s", text)


class IpfsAuthError(IpfsError):
    """The IPFS API refused a request for lack of (valid) credentials: HTTP 401 or 403.

    ``credentials_from`` says where the ``Authorization`` header that was sent came from, or is
    ``None`` when none was sent. The header value itself is never part of the message.
    """

    def __init__(
        self, what: str, address: str, status: int, *, credentials_from: str | None
    ) -> None:
        if credentials_from is None:
            advice = (
                "it requires authentication; put the Authorization header value (e.g. "
                f"'Bearer <token>') in a file and set {AUTH_FILE_ENV} to its path"
            )
        else:
            advice = (
                "the configured credentials were rejected (wrong or expired, or not allowed "
                f"for this command); the Authorization header came from {credentials_from}"
            )
        super().__init__(
            f"{what}: IPFS API at {address} refused the request (HTTP {status}): {advice}"
        )
        self.what = what
        self.address = address
        self.status = status
        self.credentials_from = credentials_from


@dataclass(frozen=True)
class IpfsSettings:
    """The resolved IPFS API configuration (no secret: only the auth file's path)."""

    api: str
    timeout: float
    retries: int
    auth_file: Path | None


def resolve_api_address(explicit: str | None = None, devnet_dir: Path | None = None) -> str:
    """Choose the IPFS API address.

    Order: ``explicit``; the environment variable ``FQAI_IPFS_API``; the ``ipfs`` section of the
    devnet state file (``.devnet/state.json``) if one is running; ``/ip4/127.0.0.1/tcp/5001/http``.
    """
    if explicit:
        return explicit
    if os.environ.get(API_ENV):
        return os.environ[API_ENV]
    from fqai.devnet.state import DevnetState  # local import: devnet is optional

    service = DevnetState.load(devnet_dir).service("ipfs")
    if service and isinstance(service.get("api"), str):
        return str(service["api"])
    return DEFAULT_API


def check_timeout(value: float, source: str = "timeout") -> float:
    """Require a finite number of seconds > 0."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise IpfsError(f"IPFS {source} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_retries(value: int, source: str = "retries") -> int:
    """Require a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IpfsError(f"IPFS {source} must be a whole number >= 0, got {value!r}")
    return value


def _env(name: str) -> str | None:
    """The variable's value, or ``None`` when it is unset or blank."""
    value = os.environ.get(name)
    return value if value and value.strip() else None


def timeout_from_env() -> float:
    """``FQAI_IPFS_TIMEOUT`` as seconds, or the default."""
    raw = _env(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise IpfsError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise IpfsError(f"{TIMEOUT_ENV}={raw!r} must be a finite number of seconds > 0")
    return value


def retries_from_env() -> int:
    """``FQAI_IPFS_RETRIES`` as a count, or the default."""
    raw = _env(RETRIES_ENV)
    if raw is None:
        return DEFAULT_RETRIES
    try:
        value = int(raw.strip())
    except ValueError:
        raise IpfsError(f"{RETRIES_ENV}={raw!r} is not a whole number of retries") from None
    if value < 0:
        raise IpfsError(f"{RETRIES_ENV}={raw!r} must be 0 or more")
    return value


def auth_file_from_env() -> Path | None:
    """``FQAI_IPFS_AUTH_FILE`` as a path (not read here), or ``None``."""
    raw = _env(AUTH_FILE_ENV)
    return Path(raw).expanduser() if raw is not None else None


def ipfs_settings(api: str | None = None) -> IpfsSettings:
    """The IPFS configuration from the environment; ``api`` goes through
    :func:`resolve_api_address`.

    Raises
    ------
    IpfsError
        A variable holds a value that is not allowed; the message names the variable and value.
    """
    return IpfsSettings(
        api=resolve_api_address(api),
        timeout=timeout_from_env(),
        retries=retries_from_env(),
        auth_file=auth_file_from_env(),
    )


def load_auth_header(path: Path, source: str = AUTH_FILE_ENV) -> str:
    """Read the ``Authorization`` header value from ``path``.

    The file holds exactly the header value, e.g. ``Bearer <token>`` or
    ``Basic <base64 of user:password>``; surrounding whitespace (a final newline) is ignored.
    Error messages name the file (and ``source``, where its path came from), never its content.

    Raises
    ------
    IpfsError
        The file is missing, not a regular file, unreadable, too large, empty, not one line of
        printable ASCII, or holds a whole header line instead of the value.
    """
    where = f"IPFS auth file {path} (from {source})"
    try:
        info = path.stat()
    except FileNotFoundError:
        raise IpfsError(f"{where} does not exist") from None
    except OSError as exc:
        raise IpfsError(f"{where} cannot be accessed: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise IpfsError(f"{where} is not a regular file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_AUTH_FILE_SIZE + 1)
    except OSError as exc:
        raise IpfsError(f"{where} cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_AUTH_FILE_SIZE:
        raise IpfsError(f"{where} is larger than {MAX_AUTH_FILE_SIZE} bytes; is it the right file?")
    try:
        value = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise IpfsError(f"{where} holds non-ASCII bytes; it must hold one line of text") from None
    if not value:
        raise IpfsError(
            f"{where} is empty; it must hold the Authorization header value, "
            "e.g. 'Bearer <token>' or 'Basic <base64 of user:password>'"
        )
    if any(not (32 <= ord(char) < 127) for char in value):
        raise IpfsError(
            f"{where} holds a line break or control character; "
            "it must hold a single line: the Authorization header value"
        )
    if value.lower().startswith(AUTH_HEADER.lower() + ":"):
        raise IpfsError(
            f"{where} holds a whole header line; put only the value (e.g. 'Bearer <token>') in it"
        )
    if " " not in value:
        warn_once(
            "%s holds no authentication scheme (expected e.g. 'Bearer <token>' or "
            "'Basic <base64>'); it is sent as it is",
            where,
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn_once(
            "%s can be read by other users (mode %o); consider chmod 600",
            where,
            stat.S_IMODE(info.st_mode),
        )
    return value


def request_headers(
    headers: Mapping[str, str] | None, auth_file: Path | None, auth_source: str
) -> dict[str, str]:
    """The headers sent with every request: ``headers`` plus ``Authorization`` from ``auth_file``.

    An ``Authorization`` entry in ``headers`` wins over the file. Values must be single-line text.
    """
    result: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise IpfsError(f"IPFS request header {name!r}: name and value must be strings")
        if any(not (32 <= ord(char) < 127) for char in name) or ":" in name or not name:
            raise IpfsError(f"IPFS request header name {name!r} is not a valid header name")
        if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
            # The value is not shown: it may be a credential.
            raise IpfsError(f"IPFS request header {name!r} has a line break or control character")
        result[name] = value.strip()
    has_auth = any(name.lower() == AUTH_HEADER.lower() for name in result)
    if auth_file is not None and not has_auth:
        result[AUTH_HEADER] = load_auth_header(auth_file, auth_source)
    return result


def is_loopback_api(address: str) -> bool:
    """Whether the multiaddr names this host (loopback IP, ``localhost``, or a Unix socket)."""
    parts = address.strip("/").split("/")
    if len(parts) < 2:
        return False
    proto, host = parts[0], parts[1]
    if proto == "unix":
        return True
    if proto == "ip4":
        return host.startswith("127.")
    if proto == "ip6":
        return host in ("::1", "0:0:0:0:0:0:0:1")
    if proto in ("dns", "dns4", "dns6"):
        return host == "localhost"
    return False
