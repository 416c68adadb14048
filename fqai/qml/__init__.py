"""Hybrid quantum classifiers trained across a federation (issue #11).

Modules, one job each:

* :mod:`fqai.qml.spec`: :class:`QuantumModelSpec` (qubits, reps, entanglement, encoding) and
  where the circuit runs, parsed from ``quantum[:key=value,...]``; imports no Qiskit;
* :mod:`fqai.qml.circuit`: the circuit (encoding + ``real_amplitudes``), its OpenQASM 3 text;
* :mod:`fqai.qml.statevector`: a batched numpy simulator (exact, cross-checked against Aer);
* :mod:`fqai.qml.executors`: Aer EstimatorV2 (exact), Aer / fake-device / IBM sampling;
* :mod:`fqai.qml.gradients`: parameter-shift gradients as a torch autograd function;
* :mod:`fqai.qml.model`: :class:`~fqai.qml.model.HybridClassifier`;
* :mod:`fqai.qml.features`: PCA of the training split to one angle per qubit;
* :mod:`fqai.qml.manifest`: the ``model.params.quantum`` section of a manifest, and its checks;
* :mod:`fqai.qml.evaluate`: a manifest's model evaluated exactly, with shots and on a noisy
  fake device.
"""

from fqai.qml.errors import CircuitMismatchError, QuantumBackendError, QuantumModelError
from fqai.qml.spec import (
    ExecutionSettings,
    QuantumModelChoice,
    QuantumModelSpec,
    parse_quantum_model,
)

__all__ = [
    "CircuitMismatchError",
    "ExecutionSettings",
    "QuantumBackendError",
    "QuantumModelChoice",
    "QuantumModelError",
    "QuantumModelSpec",
    "parse_quantum_model",
]
