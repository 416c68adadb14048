"""Test-only misbehaviour of a node, switched on per node with ``fqai-test-fault`` (node config).

The value is a comma-separated list, one entry per round (round 1 first; missing entries and
``none`` mean honest):

* ``crash``: kill this node's SuperNode (and everything it spawned) mid-round, before anything
  is published or committed;
* ``tamper-weights``: the signed manifest records the sha256 of the trained weights, but its
  weights CID points at other bytes;
* ``bad-signature``: the manifest's ML-DSA-65 signature is corrupted (the digest committed
  on-chain is still the manifest's);
* ``wrong-commitment``: the node commits a digest other than its manifest's;
* ``free-ride``: the node sends the global model back unchanged (signed and committed);
* ``replay``: the node sends its previous round's update again (commits its digest anew);
* ``foreign-key``: the update is signed with a key other than the one the node registered;
* ``inflate-samples``: the manifest claims 10^9 training examples;
* ``sign-flip`` / ``scale``: the node trains, then sends ``global - 4 (local - global)`` /
  ``global + 10 (local - global)`` (:mod:`fqai.federation.attacks`), signed and committed.

These exist to exercise the coordinator's checks against real processes; an honest node never
sets the key.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fqai.crypto import mldsa
from fqai.federation.attacks import apply_attack
from fqai.federation.errors import FederationError
from fqai.ipfs.client import IpfsClient
from fqai.jcs import canonicalize
from fqai.keystore import NodeIdentity
from fqai.manifest.envelope import sign_manifest
from fqai.trust.publish import PublishedArtifact

log = logging.getLogger(__name__)

FAULTS = (
    "none",
    "crash",
    "tamper-weights",
    "bad-signature",
    "wrong-commitment",
    "free-ride",
    "replay",
    "foreign-key",
    "inflate-samples",
    "sign-flip",
    "scale",
)
INFLATED_SAMPLES = 10**9
POISON = {"sign-flip": ("sign-flip", 4.0), "scale": ("scaling", 10.0)}


def poisoned(
    fault: str, global_weights: Mapping[str, NDArray[Any]], local: Mapping[str, NDArray[Any]]
) -> dict[str, NDArray[Any]]:
    """The weights a ``sign-flip`` / ``scale`` node sends; ``local`` for any other fault."""
    if fault == "free-ride":
        return {k: np.array(v, copy=True) for k, v in global_weights.items()}
    if fault not in POISON:
        return dict(local)
    name, factor = POISON[fault]
    out = apply_attack(name, global_weights, local, factor)
    return {k: out[k].astype(np.asarray(local[k]).dtype) for k in local}


def sign_with_foreign_key(ipfs: IpfsClient, published: PublishedArtifact) -> PublishedArtifact:
    """The same manifest signed by a fresh ML-DSA-65 key (signer digest updated to match it):
    a valid signature, but not by the key the node registered on-chain."""
    keypair = mldsa.generate()
    manifest = published.manifest
    signer = dataclasses.replace(
        manifest.signer, key_digest=mldsa.key_digest(keypair.public_key),
        public_key=keypair.public_key, public_key_cid=None,
    )  # fmt: skip
    signed = sign_manifest(dataclasses.replace(manifest, signer=signer), keypair)
    cid = ipfs.add_bytes(signed.envelope_bytes)
    return PublishedArtifact(cid, signed.digest, published.weights_cid, signed)


def fault_for_round(spec: str | None, round_: int) -> str:
    """The fault planned for ``round_`` (``none`` if none)."""
    entries = [e.strip() for e in (spec or "").split(",")]
    fault = entries[round_ - 1] if 0 < round_ <= len(entries) else ""
    fault = fault or "none"
    if fault not in FAULTS:
        raise FederationError(f"unknown test fault {fault!r}; choose from {FAULTS}")
    return fault


def _ancestors(pid: int) -> list[int]:
    out = []
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        out.append(pid)
    return out


def crash_supernode() -> None:
    """SIGKILL this process's SuperNode, the processes it spawned, and this process."""
    from fqai.federation.runtime import _descendants

    for pid in _ancestors(os.getpid()):
        with contextlib.suppress(OSError):
            if b"flower-supernode" in Path(f"/proc/{pid}/cmdline").read_bytes():
                log.warning("test fault: crashing SuperNode %d mid-round", pid)
                for child in [*_descendants(pid), pid]:
                    if child != os.getpid():
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(child, signal.SIGKILL)
                break
    os.kill(os.getpid(), signal.SIGKILL)


def tamper_weights(
    ipfs: IpfsClient, identity: NodeIdentity, published: PublishedArtifact, weights: Path
) -> PublishedArtifact:
    """Re-sign the manifest with its weights CID pointing at bytes other than the signed ones."""
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # last byte of the last tensor: still a valid safetensors file
    other_cid = ipfs.add_bytes(bytes(data))
    manifest = published.manifest
    manifest = dataclasses.replace(
        manifest, weights=dataclasses.replace(manifest.weights, cid=other_cid)
    )
    signed = sign_manifest(manifest, identity.mldsa)
    cid = ipfs.add_bytes(signed.envelope_bytes)
    return PublishedArtifact(cid, signed.digest, other_cid, signed)


def corrupt_signature(ipfs: IpfsClient, published: PublishedArtifact) -> PublishedArtifact:
    """The same manifest under a corrupted signature (same digest, different CID)."""
    envelope = json.loads(published.signed.envelope_bytes)
    signature = bytearray(base64.b64decode(envelope["signature"]["value"]))
    signature[0] ^= 0xFF
    envelope["signature"]["value"] = base64.b64encode(bytes(signature)).decode()
    cid = ipfs.add_bytes(canonicalize(envelope))
    return dataclasses.replace(published, manifest_cid=cid)


def wrong_digest(digest: str) -> str:
    """A digest that is not ``digest``."""
    return "0x" + hashlib.sha256(bytes.fromhex(digest[2:])).hexdigest()
