"""The coordinator's Flower ServerApp: verified rounds with a Flower strategy, then the mint.

Settings come from the run config (``[tool.flwr.app.config]`` of the generated app, see
:mod:`fqai.federation.runtime`); the run's record (accepted and rejected updates, finalised
rounds, accuracy, token id) is written as JSON to ``record-path``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from numpy.typing import NDArray

from fqai.federation import task
from fqai.federation.admission import admit
from fqai.federation.aggregation import make_strategy
from fqai.federation.coordinator import Coordinator, coordinator_chain
from fqai.federation.dp import DpSettings
from fqai.federation.errors import FederationError
from fqai.federation.flower_control import FlowerControl
from fqai.federation.history import NodeHistory
from fqai.federation.node import unlock_identity
from fqai.federation.records import RunRecord, weights_to_record
from fqai.federation.selection import make_selector, selected_count
from fqai.federation.strategy import VerifiedStrategy
from fqai.ipfs.client import IpfsClient
from fqai.quantum.qaoa import QaoaConfig
from fqai.trust.fetch import fetch_verified_manifest, fetch_weights_bytes
from fqai.weights import load_bytes

log = logging.getLogger(__name__)
torch.set_num_threads(1)

app = ServerApp()


def strategy_params(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of the Flower strategy from the run config."""
    name = str(config.get("strategy", "fedavg")).lower()
    nodes = int(config.get("min-nodes", 2))
    params: dict[str, Any] = {
        "min_train_nodes": nodes,
        "min_available_nodes": nodes,
        "fraction_evaluate": float(config.get("fraction-evaluate", 1.0)),
        "min_evaluate_nodes": nodes if float(config.get("fraction-evaluate", 1.0)) > 0 else 0,
    }
    if name == "fedprox":
        params["proximal_mu"] = float(config.get("proximal-mu", 0.01))
    if name in ("krum", "multikrum", "bulyan"):
        params["num_malicious_nodes"] = int(config.get("num-malicious-nodes", 0))
    if name == "multikrum":
        params["num_nodes_to_select"] = int(config.get("num-nodes-to-select", 1))
    if name == "fedtrimmedavg":
        params["beta"] = float(config.get("trim-beta", 0.2))
    return params


def dp_settings(config: dict[str, Any]) -> DpSettings | None:
    """DP-SGD settings from the run config (``dp-epsilon`` > 0 turns it on), or ``None``."""
    epsilon = float(config.get("dp-epsilon", 0) or 0)
    if epsilon <= 0:
        return None
    if str(config.get("strategy", "fedavg")).lower() == "fedprox":
        raise FederationError("DP-SGD cannot be combined with FedProx's proximal term")
    if task.quantum_choice(str(config.get("model", ""))) is not None:
        raise FederationError("DP-SGD (Opacus) does not support the quantum model")
    return DpSettings(
        target_epsilon=epsilon,
        delta=float(config.get("dp-delta", 1e-5)),
        max_grad_norm=float(config.get("dp-max-grad-norm", 1.0)),
        planned_rounds=int(config.get("num-rounds", 2)),
    )


def default_quorum(min_nodes: int) -> int:
    """A strict majority of the nodes a round samples."""
    return min_nodes // 2 + 1


def model_weights(ipfs: IpfsClient, manifest_cid: str) -> dict[str, NDArray[Any]]:
    """Weights of a published round model, fetched and checked against its signed manifest."""
    verified = fetch_verified_manifest(ipfs, manifest_cid)
    data = fetch_weights_bytes(ipfs, verified.manifest)
    return load_bytes(data, verified.manifest.weights.info, f"round model {manifest_cid}")


def admission_hook(
    config: dict[str, Any], coordinator: Coordinator, ipfs: IpfsClient
) -> Callable[[int], dict[str, Any]] | None:
    """With ``admission-flwr-home`` set: before each round, admit exactly the staked members'
    SuperNode keys into the SuperLink (see :mod:`fqai.federation.admission`)."""
    flwr_home = str(config.get("admission-flwr-home", ""))
    if not flwr_home:
        return None
    control = FlowerControl(Path(flwr_home))
    work_dir = Path(str(config["admission-dir"]))

    def before_round(chain_round: int) -> dict[str, Any]:
        report = admit(coordinator.registry, ipfs, control, coordinator.federation_id, work_dir)
        log.info(
            "round %d admission: %d SuperNode(s) admitted (%d new), %d unregistered, %d refused",
            chain_round,
            len(report.admitted),
            len(report.registered),
            len(report.unregistered),
            len(report.refused),
        )
        return report.to_json()

    return before_round


def qaoa_config(config: dict[str, Any]) -> QaoaConfig:
    """The QAOA settings of a run (``qaoa-*`` keys), defaults where absent."""
    base = QaoaConfig()
    return QaoaConfig(
        variant=str(config.get("qaoa-variant", base.variant)),
        mixer=str(config.get("qaoa-mixer", base.mixer)),
        reps=int(config.get("qaoa-reps", base.reps)),
        objective=str(config.get("qaoa-objective", base.objective)),
        alpha=float(config.get("qaoa-alpha", base.alpha)),
        angles=str(config.get("qaoa-angles", base.angles)),
        maxiter=int(config.get("qaoa-maxiter", base.maxiter)),
        shots=int(config.get("qaoa-shots", base.shots)),
        backend=str(config.get("qaoa-backend", base.backend)),
        time_budget=float(config.get("qaoa-budget", base.time_budget)),
    )


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the configured rounds and mint the final model."""
    config = dict(context.run_config)
    record_path = Path(str(config["record-path"]))
    dataset = str(config["dataset"])
    model = str(config.get("model", ""))
    federation_id = int(config["federation-id"])
    data_seed = int(config.get("data-seed", 0))
    strategy_name = str(config.get("strategy", "fedavg"))
    record = RunRecord(federation_id=federation_id, dataset=dataset, strategy=strategy_name)
    try:
        dp = dp_settings(config)
        selection = str(config.get("selection", "all"))
        # The default seed is the federation's id: a coordinator that restarts mid-round picks
        # the same nodes again (their commitments in the open round stay usable).
        seed = int(config.get("selection-seed", -1))
        work_dir = record_path.parent / "coordinator"
        history_path = work_dir / "selection-history.npz"
        history = NodeHistory.load(history_path)
        selector = make_selector(
            selection,
            seed=seed if seed >= 0 else federation_id,
            min_nodes=int(config.get("min-select", 1)),
            history=history,
            lam=float(config.get("selection-lambda", 1.0)),
            qaoa=qaoa_config(config),
        )
        passphrase = str(config.get("coordinator-passphrase-file", "")) or None
        identity = unlock_identity(
            Path(str(config["coordinator-keystore"])), Path(passphrase) if passphrase else None
        )
        deployments = str(config.get("deployments-dir", "")) or None
        chain = coordinator_chain(
            str(config["rpc-url"]), identity, Path(deployments) if deployments else None
        )
        with IpfsClient(
            str(config["ipfs-api"]),
            retries=int(config.get("ipfs-retries", 4)),
            backoff=float(config.get("ipfs-backoff", 0.5)),
        ) as ipfs:
            coordinator = Coordinator(
                chain=chain,
                ipfs=ipfs,
                identity=identity,
                federation_id=federation_id,
                dataset=dataset,
                data_seed=data_seed,
                strategy_name=strategy_name,
                strategy_params=strategy_params(config),
                quorum=int(config.get("quorum", 0))
                or default_quorum(selected_count(selection, int(config.get("min-nodes", 2)))),
                work_dir=work_dir,
                dp=dp,
                record_path=record_path,
                model=model,
            )
            record = coordinator.record
            done = coordinator.resume()
            num_rounds = int(config.get("num-rounds", 2)) - done
            if num_rounds <= 0:
                log.info("all %d round(s) already finalised; nothing to train", done)
            strategy = VerifiedStrategy(
                make_strategy(strategy_name, **strategy_params(config)),
                coordinator,
                {
                    "fqai-dataset": dataset,
                    "fqai-data-seed": data_seed,
                    "fqai-model": coordinator.model,
                    "fqai-local-epochs": int(config.get("local-epochs", 1)),
                    "fqai-lr": float(config.get("lr", 0.05)),
                    "fqai-batch-size": int(config.get("batch-size", 32)),
                    **(dp.to_config() if dp is not None else {}),
                },
                selector,
                history,
                history_path,
                before_round=admission_hook(config, coordinator, ipfs),
            )
            if coordinator.last_model_cid:
                initial = model_weights(ipfs, coordinator.last_model_cid)
            else:
                initial = task.get_weights(
                    task.build_model(
                        dataset, seed=int(config.get("model-seed", 0)), model=coordinator.model
                    )
                )
            if num_rounds > 0:
                strategy.start(
                    grid=grid,
                    initial_arrays=weights_to_record(initial),
                    num_rounds=num_rounds,
                    timeout=float(config.get("round-timeout", 300)),
                )
            if coordinator.last_model is None and coordinator.last_model_cid:
                coordinator.adopt_last_model()
            mint_to = str(config.get("mint-to", "")) or None
            coordinator.mint(mint_to)
    except Exception as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        log.error("federation run failed: %s\n%s", exc, traceback.format_exc())
        raise
    finally:
        record.write(record_path)
