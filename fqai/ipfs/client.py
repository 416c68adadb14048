"""A checked client for the IPFS HTTP API (js-ipfs or Kubo), built on ``ipfshttpclient``.

* Works with any daemon whose RPC API is reachable at a multiaddr such as
  ``/ip4/127.0.0.1/tcp/5001/http``; only the address differs between a devnet js-ipfs node and a
  user's own Kubo node. The daemon version is not asserted (``ipfshttpclient.connect`` rejects
  daemons newer than 0.8, so the client is constructed directly).
* Every request has a timeout; connection failures and timeouts are retried a few times with
  back-off, then reported as :class:`~fqai.errors.IpfsUnavailableError` naming the address.
* Address, timeout, retries and an ``Authorization`` header (read from a file) come from the
  environment unless the caller passes them (see :mod:`fqai.ipfs.config`). A daemon or proxy
  that answers HTTP 401/403 is reported as :class:`~fqai.ipfs.config.IpfsAuthError`, not retried.
* Content is added pinned, as CIDv1 with raw leaves and 256 KiB chunks, so a file of at most one
  chunk gets a ``raw`` CID whose multihash is the sha256 of the bytes.
* Fetches have a size cap. For ``raw`` CIDs the fetched bytes are re-hashed and compared with the
  CID; for ``dag-pb`` CIDs (multi-chunk files) callers compare the sha256 and size that a signed
  manifest records (see :mod:`fqai.trust.fetch`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import ipfshttpclient
import requests
from ipfshttpclient import exceptions as ipfs_exc

from fqai.errors import (
    ContentTooLargeError,
    ContentUnavailableError,
    DigestMismatchError,
    IpfsError,
    IpfsUnavailableError,
)
from fqai.fsutil import atomic_writer
from fqai.ipfs.cid import CODEC_RAW, cid_for_raw_block, normalize_cid, parse_cid
from fqai.ipfs.config import (
    API_ENV,
    AUTH_FILE_ENV,
    AUTH_HEADER,
    DEFAULT_API,
    IpfsAuthError,
    check_retries,
    check_timeout,
    ipfs_settings,
    is_loopback_api,
    request_headers,
    resolve_api_address,
    warn_once,
)

__all__ = [
    "API_ENV",
    "CHUNKER",
    "CHUNK_SIZE",
    "DEFAULT_API",
    "IpfsAuthError",
    "IpfsClient",
    "ProgressCallback",
    "check_raw_cid",
    "check_raw_cid_digest",
    "resolve_api_address",
]

log = logging.getLogger(__name__)

AUTH_STATUSES = (401, 403)
CHUNK_SIZE = 262_144
CHUNKER = f"size-{CHUNK_SIZE}"

# ipfshttpclient 0.7 passes an argument urllib3 2.x deprecates; the warning is noise for users.
warnings.filterwarnings(
    "ignore", message="The 'strict' parameter is no longer needed", category=FutureWarning
)

ProgressCallback = Callable[[int], None]


class IpfsClient:
    """IPFS HTTP API client with timeouts, retries and checked fetches.

    Every parameter left out (``None``) comes from the environment, see :mod:`fqai.ipfs.config`.

    Parameters
    ----------
    api
        Multiaddr of the daemon's RPC API (default: :func:`resolve_api_address`).
    timeout
        Seconds allowed for connecting and for each read (default ``$FQAI_IPFS_TIMEOUT`` or 30).
    retries
        Extra attempts after a connection failure or timeout (not after a daemon error; default
        ``$FQAI_IPFS_RETRIES`` or 2).
    backoff
        Seconds before the first retry; doubled each time.
    headers
        Extra HTTP headers sent with every request. An ``Authorization`` entry here wins over
        the auth file.
    auth_file
        File holding the ``Authorization`` header value (default ``$FQAI_IPFS_AUTH_FILE``).

    Raises
    ------
    IpfsError
        A setting is invalid (the message names the variable or argument), or the auth file
        cannot be used (the message names the file, never its content).
    """

    def __init__(
        self,
        api: str | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float = 0.25,
        headers: Mapping[str, str] | None = None,
        auth_file: Path | None = None,
    ) -> None:
        settings = ipfs_settings(api)
        self.address = settings.api
        self.timeout = settings.timeout if timeout is None else check_timeout(timeout)
        self.retries = settings.retries if retries is None else check_retries(retries)
        self.backoff = backoff
        if auth_file is not None:
            auth_path: Path | None = Path(auth_file)
            auth_source = "the auth_file argument"
        else:
            auth_path = settings.auth_file
            auth_source = AUTH_FILE_ENV
        sent = request_headers(headers, auth_path, auth_source)
        given = {name.lower() for name in (headers or {})}
        self.credentials_from: str | None = None
        """Where the ``Authorization`` header came from (for messages), ``None`` if not sent."""
        if AUTH_HEADER.lower() in given:
            self.credentials_from = "the headers argument"
        elif AUTH_HEADER in sent:
            self.credentials_from = f"the file {auth_path} (from {auth_source})"
        if self.credentials_from is not None:
            self._warn_if_plain_http()
        try:
            self._client = ipfshttpclient.Client(self.address, timeout=self.timeout, headers=sent)
        except ipfs_exc.AddressError as exc:
            raise IpfsError(f"invalid IPFS API address {self.address!r}: {exc}") from exc

    def _warn_if_plain_http(self) -> None:
        if self.address.rstrip("/").endswith("/http") and not is_loopback_api(self.address):
            warn_once(
                "the IPFS credentials go unencrypted over plain HTTP to %s; "
                "use an /https address or a tunnel",
                self.address,
            )

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()

    def __enter__(self) -> IpfsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _unavailable(self, exc: BaseException) -> IpfsUnavailableError:
        if isinstance(exc, ipfs_exc.TimeoutError | requests.Timeout):
            detail = f"timed out after {self.timeout:g} s ({type(exc).__name__})"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return IpfsUnavailableError(self.address, detail)

    def _is_alive(self) -> bool:
        try:
            self._client.version(timeout=min(2.0, self.timeout))
        except (ipfs_exc.Error, requests.RequestException):
            return False
        return True

    def _timed_out(self, what: str, exc: BaseException) -> IpfsError:
        """A read timed out: tell a dead daemon from one that lacks the content."""
        if self._is_alive():
            return ContentUnavailableError(
                f"{what}: IPFS daemon at {self.address} is up but gave no answer within "
                f"{self.timeout:g} s (content not available?)"
            )
        return self._unavailable(exc)

    def _status_error(self, what: str, exc: ipfs_exc.StatusError) -> IpfsError:
        """An HTTP error status: refused credentials, a daemon error message, or another."""
        status = _http_status(exc)
        if status is not None and status in AUTH_STATUSES:
            return IpfsAuthError(what, self.address, status, credentials_from=self.credentials_from)
        if isinstance(exc, ipfs_exc.ErrorResponse):
            return IpfsError(f"{what}: IPFS daemon at {self.address} answered: {exc}")
        return IpfsError(f"{what}: IPFS daemon at {self.address}: {exc}")

    def _call(self, what: str, func: Callable[[], Any]) -> Any:
        """Run one API call; retry connection failures, map errors to fqai exceptions."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return func()
            except ipfs_exc.StatusError as exc:
                raise self._status_error(what, exc) from exc
            except ipfs_exc.TimeoutError as exc:
                connect_timeout = isinstance(exc.__cause__, requests.ConnectTimeout)
                if not connect_timeout:
                    raise self._timed_out(what, exc) from exc
                if attempt == self.retries:
                    raise self._unavailable(exc) from exc
            except (
                ipfs_exc.ConnectionError,
                ipfs_exc.ProtocolError,
                requests.RequestException,
            ) as exc:
                if attempt == self.retries:
                    raise self._unavailable(exc) from exc
            log.debug("%s: connection failed; retry %d in %.2f s", what, attempt + 1, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    # -- API ---------------------------------------------------------------------------------

    def version(self) -> str:
        """The daemon's version string (also a liveness check)."""
        result = self._call("version", lambda: self._client.version())
        return str(result["Version"])

    def _add(self, what: str, open_body: Callable[[], Any]) -> str:
        def do() -> Any:
            body = open_body()
            try:
                return self._client.add(
                    body, cid_version=1, raw_leaves=True, pin=True, chunker=CHUNKER
                )
            finally:
                body.close()

        result = self._call(what, do)
        return normalize_cid(str(result["Hash"]))

    def add_bytes(self, data: bytes) -> str:
        """Add and pin ``data``; return its CIDv1 (base32).

        For data of at most one chunk the returned CID is checked against the locally computed
        raw-block CID.
        """
        cid = self._add("add", lambda: io.BytesIO(data))
        if len(data) <= CHUNK_SIZE:
            expected = cid_for_raw_block(data)
            if cid != expected:
                raise DigestMismatchError(
                    f"CID returned by IPFS daemon at {self.address} for added bytes",
                    expected,
                    cid,
                )
        log.info("added %d bytes to IPFS as %s", len(data), cid)
        return cid

    def add_file(self, path: Path) -> str:
        """Add and pin the file at ``path`` (streamed, not read into memory); return its CID."""
        path = Path(path)
        cid = self._add(f"add {path}", lambda: path.open("rb"))
        log.info("added %s (%d bytes) to IPFS as %s", path, path.stat().st_size, cid)
        return cid

    def pin(self, cid: str) -> None:
        """Pin ``cid`` recursively."""
        self._call(f"pin {cid}", lambda: self._client.pin.add(cid))

    def is_pinned(self, cid: str) -> bool:
        """Whether ``cid`` is pinned (recursively or directly) on the daemon."""
        try:
            result = self._call(f"pin ls {cid}", lambda: self._client.pin.ls(cid, type="recursive"))
        except IpfsError as exc:
            if isinstance(exc, IpfsUnavailableError | IpfsAuthError):
                raise
            if "not pinned" in str(exc):
                return False
            raise
        return bool(result.get("Keys"))

    def iter_content(self, cid: str, *, max_size: int) -> Iterator[bytes]:
        """Stream the content of ``cid``; raise once more than ``max_size`` bytes arrive.

        Raises
        ------
        ContentTooLargeError
            More than ``max_size`` bytes.
        IpfsUnavailableError
            The daemon cannot be reached or stops answering mid-stream.
        IpfsError
            The daemon reports an error (unknown CID, ...).
        """
        stream = self._call(
            f"cat {cid}",
            lambda: self._client.cat(cid, length=max_size + 1, stream=True),
        )
        received = 0
        try:
            while True:
                try:
                    chunk = next(stream)
                except StopIteration:
                    return
                except ipfs_exc.ErrorResponse as exc:
                    raise IpfsError(f"cat {cid}: IPFS daemon at {self.address}: {exc}") from exc
                except (ipfs_exc.CommunicationError, requests.RequestException) as exc:
                    raise self._unavailable(exc) from exc
                received += len(chunk)
                if received > max_size:
                    raise ContentTooLargeError(
                        f"content of {cid} exceeds the size cap of {max_size} bytes"
                    )
                yield chunk
        finally:
            stream.close()

    def cat(self, cid: str, *, max_size: int) -> bytes:
        """Fetch the whole content of ``cid`` (at most ``max_size`` bytes) into memory.

        For a ``raw`` CID the bytes are re-hashed and must match the CID.
        """
        data = b"".join(self.iter_content(cid, max_size=max_size))
        check_raw_cid(cid, data)
        return data

    def cat_to_file(
        self,
        cid: str,
        dest: Path,
        *,
        max_size: int,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: ProgressCallback | None = None,
        before_commit: Callable[[str], None] | None = None,
    ) -> str:
        """Stream ``cid`` into ``dest`` atomically, hashing as it goes.

        The file appears at ``dest`` only after every check passed: the size cap, the expected
        size, the expected sha256 (``0x``-hex), for a ``raw`` CID the CID itself, and finally
        ``before_commit`` (called with the temporary file's path; raise to reject).

        Returns
        -------
        str
            The sha256 of the content, ``0x``-hex.
        """
        hasher = hashlib.sha256()
        size = 0
        with atomic_writer(Path(dest), 0o644) as handle:
            for chunk in self.iter_content(cid, max_size=max_size):
                hasher.update(chunk)
                handle.write(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            digest = hasher.digest()
            if expected_size is not None and size != expected_size:
                raise DigestMismatchError(f"size of {cid}", f"{expected_size} bytes", f"{size}")
            actual_hex = "0x" + digest.hex()
            if expected_sha256 is not None and actual_hex != expected_sha256:
                raise DigestMismatchError(f"sha256 of {cid}", expected_sha256, actual_hex)
            check_raw_cid_digest(cid, digest)
            if before_commit is not None:
                handle.flush()
                before_commit(handle.name)
        return actual_hex


def _http_status(exc: ipfs_exc.StatusError) -> int | None:
    """The HTTP status code behind an ipfshttpclient status error (requests or httpx)."""
    response = getattr(exc.original, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def check_raw_cid_digest(cid: str, sha256_digest: bytes) -> None:
    """If ``cid`` is a raw-codec CID, require that its multihash equals ``sha256_digest``."""
    parsed = parse_cid(cid)
    if parsed.codec == CODEC_RAW and parsed.digest != sha256_digest:
        raise DigestMismatchError(
            f"content fetched for {cid}",
            "sha256 0x" + parsed.digest.hex(),
            "sha256 0x" + sha256_digest.hex(),
        )


def check_raw_cid(cid: str, data: bytes) -> None:
    """If ``cid`` is a raw-codec CID, require that ``data`` hashes to it."""
    check_raw_cid_digest(cid, hashlib.sha256(data).digest())
