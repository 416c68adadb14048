"""What a node does in a round: train on its partition, publish a signed update, commit it.

:func:`train_and_commit` is the body of the ClientApp's ``train`` handler, written as a plain
function of its settings so it can be called (and tested) without Flower.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fqai.chain import ChainClient, FederationRegistry, KeySender
from fqai.federation import faults, task
from fqai.federation.dp import DpSettings, PrivacyLedger, train_private
from fqai.federation.errors import FederationError
from fqai.ipfs.client import IpfsClient
from fqai.keystore import Keystore, NodeIdentity
from fqai.keystore.passphrase import read_passphrase
from fqai.manifest.model import ModelSpec
from fqai.trust.publish import publish_artifact
from fqai.weights import save_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeSettings:
    """A node's fixed settings (from the SuperNode's ``--node-config``)."""

    keystore: Path
    passphrase_file: Path | None
    rpc_url: str
    ipfs_api: str
    partition_id: int
    num_partitions: int
    partitioner: str = "iid"
    alpha: float = 0.5
    deployments_dir: Path | None = None
    work_dir: Path | None = None
    test_fault: str | None = None

    @classmethod
    def from_node_config(cls, config: Mapping[str, Any]) -> NodeSettings:
        """Parse the ``fqai-*`` keys of a Flower node config."""

        def get(key: str, default: Any = None) -> Any:
            value = config.get(f"fqai-{key}", default)
            return None if value == "" else value

        deployments = get("deployments-dir")
        work = get("work-dir")
        passphrase = get("passphrase-file")
        return cls(
            keystore=Path(str(get("keystore"))),
            passphrase_file=Path(str(passphrase)) if passphrase else None,
            rpc_url=str(get("rpc-url")),
            ipfs_api=str(get("ipfs-api")),
            partition_id=int(config.get("partition-id", 0)),
            num_partitions=int(config.get("num-partitions", 1)),
            partitioner=str(get("partitioner", "iid")),
            alpha=float(get("alpha", 0.5)),
            deployments_dir=Path(str(deployments)) if deployments else None,
            work_dir=Path(str(work)) if work else None,
            test_fault=get("test-fault"),
        )


@dataclass(frozen=True)
class TrainInstruction:
    """What the coordinator asks for in one round (from the train message's config)."""

    federation_id: int
    round: int
    dataset: str
    data_seed: int
    local_epochs: int
    lr: float
    batch_size: int
    proximal_mu: float = 0.0
    parent_cid: str | None = None
    dp: DpSettings | None = None
    model: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrainInstruction:
        parent = str(config.get("fqai-parent", ""))
        return cls(
            federation_id=int(config["fqai-federation-id"]),
            round=int(config["fqai-round"]),
            dataset=str(config["fqai-dataset"]),
            data_seed=int(config.get("fqai-data-seed", 0)),
            local_epochs=int(config.get("fqai-local-epochs", 1)),
            lr=float(config.get("fqai-lr", 0.05)),
            batch_size=int(config.get("fqai-batch-size", 32)),
            proximal_mu=float(config.get("proximal-mu", 0.0)),
            parent_cid=parent or None,
            dp=DpSettings.from_config(config),
            model=str(config.get("fqai-model", "")),
        )


@dataclass(frozen=True)
class NodeUpdate:
    """A published and committed update."""

    manifest_cid: str
    manifest_digest: str
    samples: int
    train_loss: float
    node: str
    commit_tx: str
    committed_digest: str


@functools.lru_cache(maxsize=4)
def unlock_identity(keystore: Path, passphrase_file: Path | None) -> NodeIdentity:
    """Unlock a keystore once per process (passphrase from the file or the environment)."""
    return Keystore(keystore).unlock(read_passphrase(passphrase_file, interactive=False))


@functools.lru_cache(maxsize=4)
def local_data(
    dataset: str,
    data_seed: int,
    partition_id: int,
    num_partitions: int,
    partitioner: str,
    alpha: float,
    model: str = "",
) -> tuple[NDArray[np.float32], NDArray[np.int64], task.Dataset]:
    """This node's training partition (and the dataset, for its test split)."""
    data = task.load_dataset(dataset, seed=data_seed, model=model)
    parts = task.partition_indices(data, num_partitions, partitioner, seed=data_seed, alpha=alpha)
    idx = parts[partition_id]
    return data.x_train[idx], data.y_train[idx], data


def model_spec(dataset: str, model: str = "", data_seed: int = 0) -> ModelSpec:
    """The manifest ``model`` section of the task's model (a quantum model's carries its
    circuit, see :func:`fqai.federation.task.model_params`)."""
    return ModelSpec(
        name=task.model_name(dataset, model), params=task.model_params(dataset, model, data_seed)
    )


def train_and_commit(
    settings: NodeSettings,
    instruction: TrainInstruction,
    global_weights: dict[str, NDArray[Any]],
) -> NodeUpdate:
    """Train on the local partition from ``global_weights``, publish and commit the update.

    If this node already committed in the round (its coordinator restarted mid-round and
    resumed it), the update it committed is sent again, from the record kept in ``work_dir``.
    """
    identity = unlock_identity(settings.keystore, settings.passphrase_file)
    fault = faults.fault_for_round(settings.test_fault, instruction.round)
    if fault == "crash":
        faults.crash_supernode()
    chain = ChainClient.from_rpc(
        settings.rpc_url,
        KeySender(identity.eth_private_key),
        deployments_dir=settings.deployments_dir,
    )
    registry = FederationRegistry(chain)
    work = settings.work_dir or Path(tempfile.gettempdir())
    work.mkdir(parents=True, exist_ok=True)
    saved = work / f"update-f{instruction.federation_id}-r{instruction.round}.json"
    committed = registry.commitment(instruction.federation_id, instruction.round, chain.address)
    if committed != "0x" + "00" * 32:
        if saved.exists():
            previous = NodeUpdate(**json.loads(saved.read_text()))
            if previous.committed_digest == committed:
                log.warning(
                    "node %s already committed %s in round %d; sending it again",
                    chain.address,
                    previous.manifest_cid,
                    instruction.round,
                )
                return previous
        raise FederationError(
            f"{chain.address} already committed {committed} in round {instruction.round} of "
            f"federation {instruction.federation_id}, and {saved} does not record that update"
        )
    x, y, _ = local_data(
        instruction.dataset,
        instruction.data_seed,
        settings.partition_id,
        settings.num_partitions,
        settings.partitioner,
        settings.alpha,
        instruction.model,
    )
    model = task.build_model(instruction.dataset, model=instruction.model)
    task.set_weights(model, global_weights)
    seed = instruction.round * 1000 + settings.partition_id
    dp_metrics: dict[str, float | int] = {}
    if instruction.dp is not None:
        if instruction.proximal_mu > 0:
            raise FederationError("DP-SGD and FedProx's proximal term cannot be combined")
        if task.quantum_choice(instruction.model) is not None:
            raise FederationError("DP-SGD (Opacus) does not support the quantum model")
        result, spend = train_private(
            model,
            x,
            y,
            settings=instruction.dp,
            ledger=PrivacyLedger.load(work / f"dp-f{instruction.federation_id}.json"),
            epochs=instruction.local_epochs,
            lr=instruction.lr,
            batch_size=instruction.batch_size,
            seed=seed,
        )
        dp_metrics = spend.metrics()
        log.info(
            "node %s: DP-SGD round %d spent epsilon %.3f in total (delta %g, %d steps)",
            identity.public.eth_address,
            instruction.round,
            spend.epsilon,
            spend.delta,
            spend.steps,
        )
    else:
        result = task.train(
            model,
            x,
            y,
            epochs=instruction.local_epochs,
            lr=instruction.lr,
            batch_size=instruction.batch_size,
            seed=seed,
            proximal_mu=instruction.proximal_mu,
        )
    log.info(
        "node %s trained round %d on %d samples (loss %.4f)",
        identity.public.eth_address,
        instruction.round,
        result.samples,
        result.loss,
    )
    if fault == "replay":
        return _replay_previous(registry, work, instruction, saved)
    path = work / f"update-f{instruction.federation_id}-r{instruction.round}.safetensors"
    save_weights(faults.poisoned(fault, global_weights, task.get_weights(model)), path)
    samples = faults.INFLATED_SAMPLES if fault == "inflate-samples" else result.samples
    with IpfsClient(settings.ipfs_api) as ipfs:
        published = publish_artifact(
            ipfs,
            identity,
            path,
            kind="update",
            federation_id=instruction.federation_id,
            round=instruction.round,
            model=model_spec(instruction.dataset, instruction.model, instruction.data_seed),
            parents=[instruction.parent_cid] if instruction.parent_cid else [],
            metrics={
                "loss": result.loss,
                "samples": samples,
                "epochs": result.epochs,
                **dp_metrics,
            },
        )
        if fault == "tamper-weights":
            published = faults.tamper_weights(ipfs, identity, published, path)
        elif fault == "bad-signature":
            published = faults.corrupt_signature(ipfs, published)
        elif fault == "foreign-key":
            published = faults.sign_with_foreign_key(ipfs, published)
    digest = published.manifest_digest
    if fault == "wrong-commitment":
        digest = faults.wrong_digest(digest)
    if fault != "none":
        log.warning("test fault %r in round %d", fault, instruction.round)
    tx = registry.commit_update(instruction.federation_id, instruction.round, digest)
    log.info(
        "node %s committed update %s (digest %s) for round %d",
        chain.address,
        published.manifest_cid,
        published.manifest_digest,
        instruction.round,
    )
    update = NodeUpdate(
        manifest_cid=published.manifest_cid,
        manifest_digest=published.manifest_digest,
        samples=result.samples,
        train_loss=result.loss,
        node=chain.address,
        commit_tx=tx.tx_hash,
        committed_digest=digest,
    )
    saved.write_text(json.dumps(dataclasses.asdict(update)))
    return update


def _replay_previous(
    registry: FederationRegistry, work: Path, instruction: TrainInstruction, saved: Path
) -> NodeUpdate:
    """Test fault ``replay``: commit and send the previous round's update again."""
    previous_file = work / f"update-f{instruction.federation_id}-r{instruction.round - 1}.json"
    if not previous_file.exists():
        raise FederationError(f"test fault replay: no earlier update in {previous_file}")
    previous = NodeUpdate(**json.loads(previous_file.read_text()))
    log.warning(
        "test fault 'replay' in round %d: resending %s", instruction.round, previous.manifest_cid
    )
    tx = registry.commit_update(
        instruction.federation_id, instruction.round, previous.manifest_digest
    )
    update = dataclasses.replace(
        previous, commit_tx=tx.tx_hash, committed_digest=previous.manifest_digest
    )
    saved.write_text(json.dumps(dataclasses.asdict(update)))
    return update


def evaluate_local(
    settings: NodeSettings,
    dataset: str,
    data_seed: int,
    global_weights: dict[str, NDArray[Any]],
    model_setting: str = "",
) -> task.EvalResult:
    """Evaluate the global model on this node's share of the test split."""
    _, _, data = local_data(
        dataset,
        data_seed,
        settings.partition_id,
        settings.num_partitions,
        settings.partitioner,
        settings.alpha,
        model_setting,
    )
    parts = task.iid_partition(len(data.y_test), settings.num_partitions, seed=data_seed)
    idx = parts[settings.partition_id]
    model = task.build_model(dataset, model=model_setting)
    task.set_weights(model, global_weights)
    return task.evaluate(model, data.x_test[idx], data.y_test[idx])
