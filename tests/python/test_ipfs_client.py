"""The IPFS client against a real js-ipfs daemon: add, cat, pins, caps, CIDs, failures."""

from __future__ import annotations

import io
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import cid as py_cid
import ipfshttpclient
import pytest

from fqai.devnet.ipfs_node import IpfsNode
from fqai.devnet.tools import free_port
from fqai.errors import (
    ContentTooLargeError,
    ContentUnavailableError,
    DigestMismatchError,
    IpfsUnavailableError,
    ManifestError,
)
from fqai.ipfs.cid import cid_for_raw_block, normalize_cid, parse_cid
from fqai.ipfs.client import CHUNK_SIZE, IpfsClient, resolve_api_address


def test_cid_helpers_agree_with_py_cid() -> None:
    for data in (b"", b"hello", os.urandom(1000)):
        ours = cid_for_raw_block(data)
        theirs = py_cid.make_cid(1, "raw", py_cid.make_cid(ours).multihash)
        assert ours == theirs.encode("base32").decode()
    v0 = "QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1"
    assert normalize_cid(v0) == py_cid.make_cid(v0).to_v1().encode("base32").decode()
    base58 = py_cid.make_cid(cid_for_raw_block(b"x")).encode("base58btc").decode()
    assert normalize_cid(base58) == cid_for_raw_block(b"x")
    for bad in ("", "bafy", "Qm123", "BAFKREI" + "A" * 52, "f01551220" + "00" * 32, "x" * 300):
        with pytest.raises(ManifestError):
            parse_cid(bad)


def test_add_cat_round_trip_with_local_cid(ipfs_client: IpfsClient) -> None:
    data = b"fqai round trip " + os.urandom(64)
    cid = ipfs_client.add_bytes(data)
    assert cid == cid_for_raw_block(data)
    assert ipfs_client.is_pinned(cid)
    assert ipfs_client.cat(cid, max_size=len(data)) == data
    assert ipfs_client.version()


def test_one_chunk_is_raw_and_larger_is_dag_pb(ipfs_client: IpfsClient, tmp_path: Path) -> None:
    exact = os.urandom(CHUNK_SIZE)
    assert ipfs_client.add_bytes(exact) == cid_for_raw_block(exact)
    bigger = tmp_path / "bigger.bin"
    bigger.write_bytes(os.urandom(CHUNK_SIZE + 1))
    cid = ipfs_client.add_file(bigger)
    assert parse_cid(cid).codec_name == "dag-pb"
    assert ipfs_client.is_pinned(cid)
    dest = tmp_path / "fetched.bin"
    digest = ipfs_client.cat_to_file(cid, dest, max_size=CHUNK_SIZE + 1)
    assert dest.read_bytes() == bigger.read_bytes()
    assert digest.startswith("0x")


def test_size_cap_is_enforced(ipfs_client: IpfsClient, tmp_path: Path) -> None:
    data = os.urandom(5000)
    cid = ipfs_client.add_bytes(data)
    with pytest.raises(ContentTooLargeError, match=f"{cid}.*4999"):
        ipfs_client.cat(cid, max_size=4999)
    dest = tmp_path / "capped.bin"
    with pytest.raises(ContentTooLargeError):
        ipfs_client.cat_to_file(cid, dest, max_size=100)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_cat_to_file_checks_digests_and_leaves_nothing(
    ipfs_client: IpfsClient, tmp_path: Path
) -> None:
    data = os.urandom(3000)
    cid = ipfs_client.add_bytes(data)
    dest = tmp_path / "out.bin"
    with pytest.raises(DigestMismatchError, match="sha256"):
        ipfs_client.cat_to_file(cid, dest, max_size=3000, expected_sha256="0x" + "00" * 32)
    with pytest.raises(DigestMismatchError, match="size"):
        ipfs_client.cat_to_file(cid, dest, max_size=4000, expected_size=2999)
    assert list(tmp_path.iterdir()) == []


def test_not_pinned_is_reported(ipfs_client: IpfsClient) -> None:
    assert not ipfs_client.is_pinned(cid_for_raw_block(b"never added " + os.urandom(8)))


def test_unknown_content_times_out_as_unavailable_content(ipfs_node: IpfsNode) -> None:
    with IpfsClient(ipfs_node.api_address, timeout=1.0, retries=0) as client:
        missing = cid_for_raw_block(b"never added " + os.urandom(8))
        with pytest.raises(ContentUnavailableError, match="is up but"):
            client.cat(missing, max_size=100)


def test_closed_port_is_unavailable_naming_the_address() -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}/http"
    with (
        IpfsClient(address, timeout=2, retries=1, backoff=0.05) as client,
        pytest.raises(IpfsUnavailableError, match=address) as caught,
    ):
        client.version()
    assert caught.value.address == address


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers (a hung daemon)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        server.close()


def test_hung_daemon_times_out_as_unavailable(silent_server: int) -> None:
    address = f"/ip4/127.0.0.1/tcp/{silent_server}/http"
    with (
        IpfsClient(address, timeout=0.5, retries=0) as client,
        pytest.raises(IpfsUnavailableError, match=rf"{address}.*timed out"),
    ):
        client.cat(cid_for_raw_block(b"x"), max_size=10)


def test_daemon_killed_mid_download(tmp_path: Path) -> None:
    """A separate node is SIGKILLed while a download streams: clear error, no partial file."""
    node = IpfsNode(tmp_path / "victim", log_path=tmp_path / "victim.log")
    node.start()
    try:
        client = IpfsClient(node.api_address, timeout=5, retries=1, backoff=0.05)
        source = tmp_path / "big.bin"
        source.write_bytes(os.urandom(24 * 1024 * 1024))
        cid = client.add_file(source)
        dest = tmp_path / "download" / "big.bin"
        dest.parent.mkdir()
        received: list[int] = []

        def kill_after_first_chunk(n: int) -> None:
            received.append(n)
            if len(received) == 1:
                node.kill()

        with pytest.raises(IpfsUnavailableError, match=node.api_address):
            client.cat_to_file(
                cid, dest, max_size=source.stat().st_size, progress=kill_after_first_chunk
            )
        assert sum(received) < source.stat().st_size
        assert list(dest.parent.iterdir()) == []
        with pytest.raises(IpfsUnavailableError):
            client.version()
    finally:
        node.stop()
    assert node.pid is None


def test_resolve_api_address_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FQAI_IPFS_API", raising=False)
    empty = tmp_path / "devnet"
    assert resolve_api_address(None, empty) == "/ip4/127.0.0.1/tcp/5001/http"
    from fqai.devnet.state import DevnetState

    with DevnetState.update(empty) as state:
        state.services["ipfs"] = {"api": "/ip4/127.0.0.1/tcp/4444/http"}
    assert resolve_api_address(None, empty) == "/ip4/127.0.0.1/tcp/4444/http"
    monkeypatch.setenv("FQAI_IPFS_API", "/ip4/127.0.0.1/tcp/5555/http")
    assert resolve_api_address(None, empty) == "/ip4/127.0.0.1/tcp/5555/http"
    assert resolve_api_address("/ip4/127.0.0.1/tcp/1/http", empty).endswith("/1/http")


def test_raw_cid_for_oversized_block_is_still_capped(ipfs_node: IpfsNode) -> None:
    """A daemon told to use 1 MiB chunks makes a raw CID for 300 KiB; the cap still holds."""
    raw = ipfshttpclient.Client(ipfs_node.api_address)
    data = os.urandom(300 * 1024)
    added = raw.add(io.BytesIO(data), cid_version=1, raw_leaves=True, chunker="size-1048576")
    cid = normalize_cid(added["Hash"])
    assert cid == cid_for_raw_block(data)
    with IpfsClient(ipfs_node.api_address, timeout=5) as client:
        with pytest.raises(ContentTooLargeError):
            client.cat(cid, max_size=256 * 1024)
        assert client.cat(cid, max_size=len(data)) == data
    raw.close()
