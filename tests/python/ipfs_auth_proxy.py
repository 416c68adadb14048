"""A reverse proxy for tests that puts bearer-token authentication in front of an IPFS API.

It plays a pinning gateway, or Kubo with ``API.Authorizations``: a ``POST /api/v0/...`` without
``Authorization: Bearer <token>`` is refused (401 by default, 403 like Kubo if asked), anything
else is forwarded to the real node's API. Request bodies (chunked multipart uploads of ``add``)
and response bodies (streamed ``cat``) are passed through piece by piece, never buffered whole.

Usage::

    with IpfsAuthProxy(node.api_address, token="s3cret", host="127.0.0.2") as proxy:
        IpfsClient(proxy.api_address, ...)

``stall = True`` makes the proxy accept authorised requests and never answer (a hung gateway).
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

log = logging.getLogger(__name__)

API_PREFIX = "/api/v0/"
PIECE = 64 * 1024
# Headers that describe one connection, not the message: never forwarded (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Also set by the proxy itself, per hop.
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "authorization"}


def _parse_upstream(multiaddr: str) -> tuple[str, int]:
    """``/ip4/<host>/tcp/<port>/http`` to ``(host, port)``."""
    parts = multiaddr.strip("/").split("/")
    if len(parts) != 5 or parts[0] not in ("ip4", "dns4", "dns") or parts[2] != "tcp":
        raise ValueError(f"upstream {multiaddr!r} is not an /ip4/<host>/tcp/<port>/http multiaddr")
    if parts[4] != "http":
        raise ValueError(f"upstream {multiaddr!r}: only plain /http upstreams are supported")
    return parts[1], int(parts[3])


def _read_chunked(rfile: IO[bytes]) -> Iterator[bytes]:
    """Decode a chunked request body from ``rfile``, yielding the data as it arrives."""
    while True:
        line = rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise ConnectionError("chunked request body: truncated chunk-size line")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields: dropped
            return
        yield from _read_exact(rfile, size)
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise ConnectionError("chunked request body: missing CRLF after a chunk")


def _read_exact(rfile: IO[bytes], length: int) -> Iterator[bytes]:
    """Yield exactly ``length`` bytes from ``rfile`` in pieces."""
    remaining = length
    while remaining:
        data = rfile.read(min(remaining, PIECE))
        if not data:
            raise ConnectionError(f"request body ended {remaining} bytes early")
        remaining -= len(data)
        yield data


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: IpfsAuthProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer
    timeout = 60  # an idle keep-alive connection is dropped after this many seconds

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only: headers (the token) are never logged.
        log.debug("auth proxy %s: " + format, self.address_string(), *args)

    # -- body handling ------------------------------------------------------------------------

    def _body(self) -> tuple[Iterator[bytes] | None, int | None]:
        """The request body as a stream of pieces, and its length when it has one."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _read_chunked(self.rfile), None
        length = int(self.headers.get("Content-Length") or 0)
        if length == 0:
            return None, 0
        return _read_exact(self.rfile, length), length

    def _drain(self) -> None:
        body, _ = self._body()
        for _piece in body or ():
            pass

    def _answer(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        payload = (text + "\n").encode()
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # -- methods ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._drain()
        self._answer(405, "405 Method Not Allowed: the IPFS RPC API takes POST", {"Allow": "POST"})

    def do_POST(self) -> None:
        proxy = self.server.proxy
        proxy.paths.append(self.path.split("?", 1)[0])
        if not self.path.startswith(API_PREFIX):
            self._drain()
            self._answer(404, "404 Not Found")
            return
        if self.headers.get("Authorization") != f"Bearer {proxy.token}":
            proxy.refused += 1
            # Read the upload before answering, so the client sees the answer, not a reset.
            self._drain()
            self._answer(
                proxy.refuse_status,
                f"{proxy.refuse_status} access denied: a valid bearer token is required",
                {"WWW-Authenticate": 'Bearer realm="ipfs"'},
            )
            return
        if proxy.stall:
            self._drain()
            proxy.stop.wait()
            self.close_connection = True
            return
        self._forward(proxy)

    def _forward(self, proxy: IpfsAuthProxy) -> None:
        body, length = self._body()
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in NOT_FORWARDED
        }
        if length is not None:
            headers["Content-Length"] = str(length)
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=proxy.upstream_timeout)
        try:
            # An iterator body without Content-Length is sent chunked, piece by piece.
            upstream.request("POST", self.path, body=body, headers=headers)
            response = upstream.getresponse()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            declared = response.getheader("Content-Length")
            if declared is not None:
                self.send_header("Content-Length", declared)
                self.end_headers()
                while piece := response.read1(PIECE):
                    self.wfile.write(piece)
            else:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while piece := response.read1(PIECE):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException) as exc:
            log.debug("auth proxy: forwarding %s failed: %s", self.path, exc)
            self.close_connection = True
        finally:
            upstream.close()


class IpfsAuthProxy:
    """A threaded reverse proxy requiring ``Authorization: Bearer <token>``.

    Parameters
    ----------
    upstream
        The real node's API multiaddr, ``/ip4/<host>/tcp/<port>/http``.
    token
        The bearer token accepted.
    host
        Loopback address to listen on (a free port is chosen).
    refuse_status
        Status answered without a valid token: 401 (a gateway) or 403 (Kubo).
    """

    def __init__(
        self,
        upstream: str,
        *,
        token: str,
        host: str = "127.0.0.2",
        refuse_status: int = 401,
        upstream_timeout: float = 60.0,
    ) -> None:
        self.upstream = _parse_upstream(upstream)
        self.token = token
        self.host = host
        self.refuse_status = refuse_status
        self.upstream_timeout = upstream_timeout
        self.stall = False
        self.stop = threading.Event()
        self.paths: list[str] = []
        """The path of every POST received, in order."""
        self.refused = 0
        """How many requests were refused for lack of a valid token."""
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port listened on (kept after :meth:`close`, for messages)."""
        if self._port is None:
            raise RuntimeError("the proxy was never started; use it as a context manager")
        return self._port

    @property
    def api_address(self) -> str:
        """The proxy's API multiaddr, for :class:`~fqai.ipfs.client.IpfsClient`."""
        return f"/ip4/{self.host}/tcp/{self.port}/http"

    def start(self) -> None:
        server = _ProxyServer((self.host, 0), _Handler)
        server.proxy = self
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.stop.set()  # releases stalled requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> IpfsAuthProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
