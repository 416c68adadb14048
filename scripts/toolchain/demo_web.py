"""`make demo`: build the web dApp and serve it on 127.0.0.1 for the demo's chain and IPFS node.

The page reads addresses and ABIs from the deployment record, talks to the chain at the demo's
RPC URL and reads IPFS content through the server's `/ipfs/<cid>` route (re-hashed in the page).
On the local chain it offers the node's unlocked dev accounts, clearly labelled, so the demo works
without a wallet extension.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"


def _port(preferred: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    return 0  # any free port


@contextlib.contextmanager
def serve_dapp(rpc_url: str, ipfs_api_url: str, deployment: Path) -> Iterator[str]:
    """Build ``frontend/`` (`npm run build`) and serve it; yields the page's URL."""
    build = subprocess.run(
        ["npm", "run", "build"], cwd=FRONTEND, capture_output=True, text=True, check=False
    )
    if build.returncode != 0:
        raise SystemExit(f"building the web dApp failed:\n{build.stdout}{build.stderr}")
    sys.path.insert(0, str(FRONTEND))
    from serve import make_server

    server = make_server(
        rpc_url=rpc_url, ipfs_api=ipfs_api_url, deployment=deployment, port=_port(8000)
    )
    thread = threading.Thread(target=server.serve_forever, name="dapp", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
