"""`make demo` end to end, then a search of everything it printed and logged for key material.

The demo (scripts/toolchain/demo.py) runs in its own directory: Anvil, a js-ipfs node, the
contracts, a published and licensed model, a four-node federation on Flower processes, and
licensed delivery with the key service. Afterwards every keystore it created is unlocked and
the secret parts of every key (ML-DSA-65 and ML-KEM-768 secret keys, Ethereum private keys, the
models' AES content keys) are searched for, as hex and base64, in the demo's output and in
every log file it left. Public parts embedded in secret keys (ML-DSA's rho and tr, ML-KEM's
encapsulation key) are excluded: they are public by design.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fqai.delivery.keys import ContentKeyStore
from fqai.errors import FqaiError
from fqai.keystore import Keystore, NodeIdentity
from fqai.keystore.store import MLDSA_FILE

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSPHRASE = "demo passphrase, local only"
WINDOW = 16  # bytes: a secret is "leaked" if any 16-byte window of it appears
DEMO_TIMEOUT = 1500


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    workdir = tmp_path_factory.mktemp("demo") / "run"
    env = {
        **os.environ,
        "FQAI_DEMO_DIR": str(workdir),
        "FQAI_DEMO_KEEP": "0",
        "PATH": f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "toolchain" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    yield workdir, output


def _passphrases(workdir: Path) -> list[str]:
    found = [DEMO_PASSPHRASE]
    found += [p.read_text() for p in workdir.rglob("passphrase") if p.is_file()]
    return found


def _unlock_all(workdir: Path) -> tuple[list[NodeIdentity], list[bytes]]:
    identities: list[NodeIdentity] = []
    content_keys: list[bytes] = []
    passphrases = _passphrases(workdir)
    for key_file in sorted(workdir.rglob(MLDSA_FILE)):
        store = Keystore(key_file.parent)
        for passphrase in passphrases:
            try:
                identities.append(store.unlock(passphrase))
                break
            except FqaiError:  # the wrong passphrase: try the next
                continue
        else:
            pytest.fail(f"could not unlock the demo keystore {key_file.parent}")
    for sealed in workdir.rglob("b*.json"):
        if '"fqai-sealed-key/1"' not in sealed.read_text(errors="replace"):
            continue
        for passphrase in passphrases:
            try:
                content_keys.append(ContentKeyStore(sealed.parent, passphrase).get(sealed.stem))
                break
            except FqaiError:  # the wrong passphrase: try the next
                continue
    return identities, content_keys


def _secret_parts(identity: NodeIdentity) -> list[bytes]:
    dsa = identity.mldsa.secret_key  # rho(32) | K(32) | tr(64) | s1 | s2 | t0; rho, tr public
    kem = identity.mlkem.secret_key  # dk_pke(1152) | ek(1184) | H(ek)(32) | z(32); ek public
    return [dsa[32:64], dsa[128:], kem[:1152], kem[-32:], identity.eth_private_key]


def _private_scalars(workdir: Path) -> list[bytes]:
    """The private scalars of the SuperNode keys and of the TLS keys (CA, SuperLink)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = []
    for path in [*workdir.rglob("supernode-key"), *workdir.rglob("*.key")]:
        data = path.read_bytes()
        if b"OPENSSH" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey), path
        value = key.private_numbers().private_value
        out.append(value.to_bytes((value.bit_length() + 7) // 8, "big"))
    return out


def _windows(secret: bytes) -> Iterator[bytes]:
    for start in range(0, max(len(secret) - WINDOW, 0) + 1, WINDOW):
        yield secret[start : start + WINDOW]


def _forms(window: bytes) -> Iterator[str]:
    yield window.hex()
    # base64 of a window depends on its alignment in the encoded whole: all three offsets
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + window).decode()
        yield encoded[4 : len(encoded) - 4]


@pytest.mark.attack(
    "key-material-in-logs",
    actor="anyone reading a node's terminal output or log files",
    attack="find secret key material (ML-DSA, ML-KEM, Ethereum, content keys) in the demo's "
    "output and logs",
    control="keys stay sealed in keystores; logs print digests and addresses only",
)
def test_demo_runs_and_leaks_no_key_material(demo_run: tuple[Path, str]) -> None:
    workdir, output = demo_run
    assert "licensee" in output and "evaluated token" in output, output[-3000:]
    identities, content_keys = _unlock_all(workdir)
    assert len(identities) >= 7  # publisher, coordinator, 4 nodes, licensee
    assert content_keys, "the demo's licensed model left no sealed content key"
    logs = [p for p in workdir.rglob("*") if p.is_file() and p.suffix in (".log", ".txt", ".out")]
    assert logs, "the demo left no log files"
    corpus = "".join(output.split()).lower()
    corpus += "".join("".join(p.read_text(errors="replace").split()) for p in logs).lower()
    secrets = [part for identity in identities for part in _secret_parts(identity)]
    secrets += content_keys
    scalars = _private_scalars(workdir)
    assert len(scalars) >= 6, "the demo made no SuperNode/TLS keys (4 nodes, CA, SuperLink)"
    assert "with TLS" in output, output[-3000:]
    secrets += scalars
    leaks = [
        form
        for secret in secrets
        for window in _windows(secret)
        for form in _forms(window)
        if form.lower() in corpus
    ]
    assert not leaks, f"key material found in the demo's output or logs: {leaks[:3]}"
