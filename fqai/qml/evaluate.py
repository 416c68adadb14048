"""A quantum model from a manifest, evaluated on its dataset's held-out split on several backends:
exact (Aer EstimatorV2), sampled with shots on Aer, and on a local noisy fake IBM device (the
circuit transpiled to its coupling map and basis gates)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from numpy.typing import NDArray

from fqai.federation import task
from fqai.qml.executors import default_fake_device, make_executor
from fqai.qml.manifest import QuantumManifestModel
from fqai.qml.model import HybridClassifier
from fqai.qml.spec import ExecutionSettings

DEFAULT_SHOTS = 1024


@dataclass(frozen=True)
class BackendEvaluation:
    """Held-out accuracy and loss of the model with its circuit run on one backend."""

    mode: str  # exact | shots | device
    backend: str
    shots: int
    accuracy: float
    loss: float
    samples: int
    seconds: float
    circuit: dict[str, Any] = field(default_factory=dict)


def evaluation_settings(
    num_qubits: int, *, shots: int = DEFAULT_SHOTS, fake_device: str = "auto"
) -> list[tuple[str, ExecutionSettings]]:
    """The three standard settings: exact Aer, Aer with ``shots``, a fake device with ``shots``."""
    device = default_fake_device(num_qubits) if fake_device == "auto" else fake_device
    return [
        ("exact", ExecutionSettings("aer", 0)),
        ("shots", ExecutionSettings("aer", shots)),
        ("device", ExecutionSettings(f"fake:{device}", shots)),
    ]


def evaluate_quantum(
    model: QuantumManifestModel,
    weights: Mapping[str, NDArray[Any]],
    settings: Sequence[tuple[str, ExecutionSettings]] | None = None,
    *,
    seed: int = 0,
) -> list[BackendEvaluation]:
    """Evaluate the manifest's circuit (parsed from its OpenQASM 3) with ``weights`` on each
    setting (default: :func:`evaluation_settings`)."""
    data = task.load_dataset(model.dataset, seed=model.data_seed, model=model.choice.text())
    net = HybridClassifier(
        model.spec,
        model.num_classes,
        circuit=model.circuit,
        execution=ExecutionSettings("statevector"),
    )
    net.load_weights(weights)
    results = []
    for mode, setting in settings or evaluation_settings(model.circuit.num_qubits):
        started = time.perf_counter()
        executor = make_executor(model.circuit, setting, seed=seed)
        net.use(executor)
        result = task.evaluate(net, data.x_test, data.y_test)
        results.append(
            BackendEvaluation(
                mode=mode,
                backend=setting.backend,
                shots=setting.shots,
                accuracy=result.accuracy,
                loss=result.loss,
                samples=result.samples,
                seconds=time.perf_counter() - started,
                circuit=executor.describe(),
            )
        )
    return results
