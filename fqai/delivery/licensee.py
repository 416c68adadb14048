"""The licensee's side: buy a licence, then fetch, decrypt, verify and evaluate the model.

``fetch_licensed_model`` refuses, with the reason, anything but the model the token names:

* the token's manifest and lineage must verify against the chain (signer digest, weights digest
  of the ciphertext), and the manifest must be licensed-only (``weights.encryption``);
* the caller must hold a valid licence (``hasValidLicense``) and a ``KeyDelivered`` record for
  its current licence, or for an earlier one bought with the same ML-KEM key (a renewal);
* the wrapped-key record must carry a valid ML-DSA-65 signature by the model's signer, be bound
  to this chain, marketplace, token, licence, licensee and ML-KEM key, and name the token's
  manifest;
* the decrypted file must hash to the manifest's ``plaintext_sha256`` and its safetensors header
  must match the manifest's tensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from numpy.typing import NDArray

from fqai.chain.client import ChainClient
from fqai.chain.marketplace import LicensePurchase, Marketplace
from fqai.chain.registry import FederationRegistry
from fqai.delivery.content import decrypt_weights
from fqai.delivery.keyservice import kem_key_cid
from fqai.delivery.wrap import (
    MAX_RECORD_SIZE,
    Binding,
    KeyDeliveryError,
    parse_wrapped_key,
    unwrap_content_key,
)
from fqai.fsutil import write_bytes_atomic
from fqai.ipfs.client import IpfsClient
from fqai.keystore.store import NodeIdentity
from fqai.manifest.model import Manifest
from fqai.trust.fetch import fetch_ciphertext, fetch_weights_bytes
from fqai.trust.onchain import verify_token
from fqai.weights import load_bytes

if TYPE_CHECKING:
    from fqai.qml.evaluate import BackendEvaluation

log = logging.getLogger(__name__)


def publish_kem_key(ipfs: IpfsClient, identity: NodeIdentity) -> str:
    """Pin the ML-KEM-768 public key as a raw block; its CID follows from the key's digest."""
    cid = ipfs.add_bytes(identity.mlkem.public_key)
    expected = kem_key_cid(identity.public.mlkem_key_digest)
    if cid != expected:
        raise KeyDeliveryError(f"IPFS returned {cid} for the ML-KEM key, expected {expected}")
    return cid


def buy_license(
    chain: ChainClient,
    ipfs: IpfsClient,
    identity: NodeIdentity,
    token_id: int,
    offer_id: int,
    max_price: int,
) -> LicensePurchase:
    """Publish the ML-KEM key (so the key service can wrap to it), then ``buyLicense``."""
    publish_kem_key(ipfs, identity)
    price = int(chain.call("ModelMarketplace", "getOffer", token_id, offer_id)[4])
    if price > max_price:
        raise KeyDeliveryError(
            f"offer {offer_id} of token {token_id} costs {price} wei, above the limit {max_price}"
        )
    return Marketplace(chain).buy_license(
        token_id, offer_id, identity.public.mlkem_key_digest, price
    )


@dataclass(frozen=True)
class FetchedModel:
    """A licensed model, decrypted and checked, written to ``path``."""

    token_id: int
    license_id: int
    manifest_cid: str
    manifest: Manifest
    path: Path
    wrapped_key_cid: str


def fetch_licensed_model(
    chain: ChainClient,
    ipfs: IpfsClient,
    identity: NodeIdentity,
    token_id: int,
    dest: Path,
) -> FetchedModel:
    """Find the delivered key, unwrap it, decrypt and verify the weights, write them to ``dest``.

    Raises
    ------
    KeyDeliveryError
        No valid licence, no key delivered yet, a record for another token, licence, licensee
        or key, a record not signed by the model's signer, or a key that does not unwrap.
    DecryptionError, DigestMismatchError, WeightsError
        The ciphertext or the decrypted weights are not what the manifest promises.
    """
    me = chain.address
    # The ciphertext is fetched and checked against the manifest once, below.
    report = verify_token(chain, ipfs, token_id, check_weights=False)
    failure = report.first_failure()
    if failure is not None:
        artifact, check = failure
        raise KeyDeliveryError(
            f"token {token_id} does not verify: {artifact.cid}: {check.name}: {check.detail}"
        )
    prov = FederationRegistry(chain).provenance(token_id)
    assert report.manifest is not None
    manifest = report.manifest
    if manifest.weights.encryption is None:
        raise KeyDeliveryError(
            f"token {token_id} is not licensed-only: its weights are public "
            f"({manifest.weights.cid})"
        )
    market = Marketplace(chain)
    current = market.license_of(token_id, me)
    if not market.has_valid_license(token_id, me):
        detail = f"expired at {current.expires_at}" if current.license_id else "none bought"
        raise KeyDeliveryError(f"{me} holds no valid licence for token {token_id} ({detail})")
    purchases = {e.license_id: e for e in market.license_events(token_id=token_id, licensee=me)}
    my_key = identity.public.mlkem_key_digest.lower()
    deliveries = [
        d
        for d in market.key_deliveries(token_id=token_id, licensee=me)
        if d.license_id == current.license_id
        or (d.license_id in purchases and purchases[d.license_id].kem_key_digest.lower() == my_key)
    ]
    if not deliveries:
        raise KeyDeliveryError(
            f"no key delivered yet for licence {current.license_id} of token {token_id}: the "
            "owner's key service delivers it after the purchase; try again later"
        )
    delivery = deliveries[-1]
    purchase = purchases.get(delivery.license_id)
    if purchase is None:  # pragma: no cover - a delivery always follows a purchase
        raise KeyDeliveryError(f"no purchase event for licence {delivery.license_id}")
    record = parse_wrapped_key(
        ipfs.cat(delivery.wrapped_key_cid, max_size=MAX_RECORD_SIZE),
        f"wrapped key {delivery.wrapped_key_cid}",
    )
    if record.signer_key_digest.lower() != prov.signer_key_digest.lower():
        raise KeyDeliveryError(
            f"wrapped key {delivery.wrapped_key_cid} is signed by {record.signer_key_digest}, "
            f"not by the model's signer {prov.signer_key_digest}"
        )
    expected = Binding(
        chain_id=chain.deployment.chain_id,
        marketplace=market.address,
        token_id=token_id,
        license_id=delivery.license_id,
        licensee=me,
        kem_key_digest=purchase.kem_key_digest,
    )
    content_key = unwrap_content_key(record, identity.mlkem, expected)
    if record.manifest_cid != prov.manifest_cid:
        raise KeyDeliveryError(
            f"wrapped key names manifest {record.manifest_cid}, the token {prov.manifest_cid}"
        )
    blob = fetch_ciphertext(ipfs, manifest)
    plaintext = decrypt_weights(blob, content_key, manifest.weights.encryption.plaintext_sha256)
    load_bytes(plaintext, manifest.weights.info, f"decrypted weights of token {token_id}")
    write_bytes_atomic(Path(dest), plaintext, 0o600)
    log.info(
        "token %d: decrypted %d bytes of verified weights to %s", token_id, len(plaintext), dest
    )
    return FetchedModel(
        token_id, delivery.license_id, prov.manifest_cid, manifest, Path(dest),
        delivery.wrapped_key_cid,
    )  # fmt: skip


def fetch_public_model(
    chain: ChainClient, ipfs: IpfsClient, token_id: int
) -> tuple[Manifest, dict[str, NDArray[Any]], bytes] | None:
    """The verified weights of a token whose weights are public (a federation's model), or
    ``None`` if the token is licensed-only (then :func:`fetch_licensed_model` applies).

    Raises
    ------
    KeyDeliveryError
        The token does not verify against the chain (signers, digests, lineage).
    """
    report = verify_token(chain, ipfs, token_id, check_weights=False)
    failure = report.first_failure()
    if failure is not None:
        artifact, check = failure
        raise KeyDeliveryError(
            f"token {token_id} does not verify: {artifact.cid}: {check.name}: {check.detail}"
        )
    assert report.manifest is not None
    manifest = report.manifest
    if manifest.weights.encryption is not None:
        return None
    data = fetch_weights_bytes(ipfs, manifest)
    return manifest, load_bytes(data, manifest.weights.info, f"token {token_id}"), data


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of a model on its dataset's held-out test split.

    For a quantum model ``accuracy`` and ``loss`` are the exact (Aer) figures and ``backends``
    lists every backend it ran on (exact, with shots, on a noisy fake device).
    """

    dataset: str
    accuracy: float
    loss: float
    samples: int
    family: str = "classical"
    backends: tuple[BackendEvaluation, ...] = ()


def evaluate_weights(
    manifest: Manifest,
    weights: dict[str, NDArray[Any]],
    data_seed: int = 0,
    *,
    shots: int = 1024,
    fake_device: str = "auto",
) -> Evaluation:
    """Accuracy on the held-out split of the dataset the manifest's model names, dispatched on
    the model family: fqai's classical networks, or a quantum model (its circuit read from the
    manifest and checked) evaluated exactly on Aer, with ``shots`` on Aer, and with ``shots``
    on a local fake IBM device (``auto``: Manila up to 5 qubits, else Toronto). A quantum
    model's data seed is the one its manifest records.

    Raises
    ------
    KeyDeliveryError
        The manifest's model is not one fqai knows how to evaluate.
    CircuitMismatchError, QuantumModelError
        A quantum model whose circuit, parameters or weights are not what its manifest declares.
    """
    from fqai.federation import task
    from fqai.qml.manifest import is_quantum

    params = manifest.model.params
    if is_quantum(params):
        from fqai.qml.evaluate import evaluate_quantum, evaluation_settings
        from fqai.qml.manifest import MODEL_NAME, read_quantum_params

        if manifest.model.name != MODEL_NAME:
            raise KeyDeliveryError(
                f"cannot evaluate model {manifest.model.name!r} with quantum params: the quantum "
                f"model is {MODEL_NAME!r}"
            )
        assert params is not None
        described = read_quantum_params(params)
        runs = evaluate_quantum(
            described,
            weights,
            evaluation_settings(described.circuit.num_qubits, shots=shots, fake_device=fake_device),
        )
        exact = runs[0]
        return Evaluation(
            described.dataset, exact.accuracy, exact.loss, exact.samples, "quantum", tuple(runs)
        )
    dataset = str(params.get("dataset", "")) if params else ""
    if dataset not in task.DATASETS or task.MODEL_NAMES[dataset] != manifest.model.name:
        raise KeyDeliveryError(
            f"cannot evaluate model {manifest.model.name!r}: known models are "
            f"{sorted(task.MODEL_NAMES.values())} with params.dataset set, and quantum models"
        )
    data = task.load_dataset(dataset, seed=data_seed)
    model = task.build_model(dataset)
    task.set_weights(model, weights)
    result = task.evaluate(model, data.x_test, data.y_test)
    return Evaluation(dataset, result.accuracy, result.loss, result.samples)
