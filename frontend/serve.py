"""Serve the built dApp (``frontend/dist``) with its runtime configuration. Standard library only.

    python frontend/serve.py --rpc-url http://127.0.0.1:8545 \\
        --ipfs-api http://127.0.0.1:5001 --deployment deployments/31337.json [--port 8000]

Routes:

* ``/config.json``: ``{"rpcUrl", "ipfsGateway": "ipfs/", "deployment": "deployment.json",
  "devAccounts"}``, built from the options;
* ``/deployment.json``: the deployment record given (addresses and ABIs);
* ``/ipfs/<cid>``: the block's bytes, read from the IPFS node's HTTP RPC API (``POST
  /api/v0/cat``) and capped at 1 MiB. The page re-hashes everything it gets against the CID, so
  this proxy (like any gateway) is not trusted. It exists because js-ipfs's gateway sends no CORS
  headers and the RPC API must not be exposed to browsers;
* anything else: a file of the build.

Listens on 127.0.0.1 unless ``--host`` says otherwise. Not a production web server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"
MAX_BLOCK = 1024 * 1024
CID_RE = re.compile(r"^b[a-z2-7]{20,120}$")
IPFS_TIMEOUT = 20


class DappHandler(SimpleHTTPRequestHandler):
    """Static files plus ``/config.json``, ``/deployment.json`` and ``/ipfs/<cid>``."""

    def __init__(self, *args, settings: dict, **kwargs) -> None:
        self.settings = settings
        super().__init__(*args, directory=str(settings["dist"]), **kwargs)

    def log_message(self, format: str, *args) -> None:
        if self.settings.get("verbose"):
            super().log_message(format, *args)

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            self._send(200, json.dumps(self.settings["config"]).encode(), "application/json")
        elif path == "/deployment.json":
            self._send(200, self.settings["deployment"].read_bytes(), "application/json")
        elif path.startswith("/ipfs/"):
            self._ipfs(path[len("/ipfs/") :])
        else:
            super().do_GET()

    def _ipfs(self, cid: str) -> None:
        if not CID_RE.match(cid):
            self._send(400, b"expected a base32 CIDv1\n", "text/plain")
            return
        url = f"{self.settings['ipfs_api']}/api/v0/cat?arg={cid}&length={MAX_BLOCK + 1}"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, method="POST"), timeout=IPFS_TIMEOUT
            ) as response:
                body = response.read(MAX_BLOCK + 1)
        except urllib.error.HTTPError as exc:
            self._send(404 if exc.code == 500 else 502, b"not available\n", "text/plain")
            return
        except (OSError, TimeoutError):
            self._send(504, b"IPFS node did not answer\n", "text/plain")
            return
        if len(body) > MAX_BLOCK:
            self._send(413, b"content too large\n", "text/plain")
            return
        # Content addressed: the bytes of a CID never change.
        self._send(200, body, "application/octet-stream", "public, max-age=31536000, immutable")


def make_server(
    *,
    rpc_url: str,
    ipfs_api: str,
    deployment: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    dist: Path = DIST,
    dev_accounts: bool = True,
    verbose: bool = False,
) -> ThreadingHTTPServer:
    """A server (not yet serving) for ``dist``; ``port=0`` picks a free port."""
    if not (Path(dist) / "index.html").is_file():
        raise FileNotFoundError(f"{dist}/index.html missing: run `npm run build` in frontend/")
    settings = {
        "dist": Path(dist),
        "deployment": Path(deployment),
        "ipfs_api": ipfs_api.rstrip("/").removesuffix("/api/v0"),
        "verbose": verbose,
        "config": {
            "rpcUrl": rpc_url,
            "ipfsGateway": "ipfs/",
            "deployment": "deployment.json",
            "devAccounts": dev_accounts,
        },
    }
    return ThreadingHTTPServer((host, port), partial(DappHandler, settings=settings))


def serve_in_thread(**kwargs) -> tuple[ThreadingHTTPServer, str]:
    """Start :func:`make_server` in a daemon thread; return it and its base URL."""
    server = make_server(**kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    parser.add_argument(
        "--ipfs-api", default="http://127.0.0.1:5001", help="IPFS HTTP RPC base URL"
    )
    parser.add_argument("--deployment", type=Path, default=Path("deployments/31337.json"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument(
        "--no-dev-accounts", action="store_true", help="never offer the node's unlocked accounts"
    )
    args = parser.parse_args()
    server = make_server(
        rpc_url=args.rpc_url,
        ipfs_api=args.ipfs_api,
        deployment=args.deployment,
        host=args.host,
        port=args.port,
        dist=args.dist,
        dev_accounts=not args.no_dev_accounts,
        verbose=True,
    )
    print(f"fqai dApp on http://{args.host}:{server.server_address[1]}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
