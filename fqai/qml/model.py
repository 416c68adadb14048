"""The hybrid classifier: features → circuit (⟨Z_i⟩ of every qubit) → a linear head.

For two classes the head has one output ``z`` and the logits are ``(0, z)`` (cross-entropy on
them is the logistic loss of ``z``), so at 4 qubits and 2 repetitions the model has
12 circuit weights + 4 + 1 head parameters = 17. For more classes the head has one output
per class. Parameters (``quantum.weights``, ``head.weight``, ``head.bias``) are float32 like
fqai's other models and are saved with them in safetensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from fqai.qml.circuit import ClassifierCircuit, build_circuit
from fqai.qml.errors import QuantumModelError
from fqai.qml.executors import Executor, make_executor
from fqai.qml.gradients import QuantumExpectation
from fqai.qml.spec import ExecutionSettings, QuantumModelSpec


class QuantumLayer(nn.Module):
    """⟨Z_i⟩ of the circuit for each input row; the trainable circuit angles are
    ``weights``. The executor is runtime state, not part of the saved weights."""

    def __init__(self, circuit: ClassifierCircuit, executor: Executor) -> None:
        super().__init__()
        self.circuit = circuit
        self.executor = executor
        self.weights = nn.Parameter(torch.empty(len(circuit.weights)).uniform_(-np.pi, np.pi))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != len(self.circuit.inputs):
            raise QuantumModelError(
                f"the circuit encodes {len(self.circuit.inputs)} features per sample, got "
                f"input of shape {tuple(x.shape)}"
            )
        return QuantumExpectation.apply(x, self.weights, self.executor)


class HybridClassifier(nn.Module):
    """A :class:`QuantumLayer` followed by a linear head.

    Parameters
    ----------
    spec
        The circuit to build; ignored for the structure if ``circuit`` is given (a circuit
        loaded from a manifest), whose qubits and weights must then match it.
    num_classes
        2 (one logit, see the module docstring) or more.
    execution
        Where the circuit runs (exact Aer by default); :meth:`use` changes it later.
    """

    def __init__(
        self,
        spec: QuantumModelSpec,
        num_classes: int = 2,
        *,
        execution: ExecutionSettings | None = None,
        circuit: ClassifierCircuit | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise QuantumModelError(f"a classifier needs at least 2 classes, got {num_classes}")
        circuit = circuit or build_circuit(spec)
        if (circuit.num_qubits, len(circuit.inputs), len(circuit.weights)) != (
            spec.qubits,
            spec.num_inputs,
            spec.num_weights,
        ):
            raise QuantumModelError(
                f"circuit has {circuit.num_qubits} qubits, {len(circuit.inputs)} inputs and "
                f"{len(circuit.weights)} weights; the spec says {spec.qubits}, "
                f"{spec.num_inputs} and {spec.num_weights}"
            )
        self.spec = spec
        self.num_classes = num_classes
        self.quantum = QuantumLayer(circuit, make_executor(circuit, execution, seed=seed))
        self.head = nn.Linear(spec.qubits, 1 if num_classes == 2 else num_classes)

    @property
    def circuit(self) -> ClassifierCircuit:
        return self.quantum.circuit

    @property
    def executor(self) -> Executor:
        return self.quantum.executor

    def use(self, executor: Executor) -> HybridClassifier:
        """Run the circuit on ``executor`` from now on (same weights); returns ``self``."""
        if executor.circuit is not self.circuit and (
            executor.circuit.num_qubits != self.circuit.num_qubits
            or len(executor.circuit.parameters) != len(self.circuit.parameters)
        ):
            raise QuantumModelError("the executor runs a different circuit")
        self.quantum.executor = executor
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.quantum(x))
        if self.num_classes == 2:
            return torch.cat([torch.zeros_like(out), out], dim=1)
        return out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def load_weights(self, weights: Mapping[str, NDArray[Any]]) -> None:
        """Load ``weights`` (exactly this model's tensor names and shapes).

        Raises
        ------
        QuantumModelError
            Missing or unexpected tensors, or a tensor of the wrong shape (e.g. circuit
            weights of the wrong length for the circuit).
        """
        state = self.state_dict()
        if set(weights) != set(state):
            raise QuantumModelError(
                f"weights do not fit the quantum model: missing "
                f"{sorted(set(state) - set(weights))}, unexpected "
                f"{sorted(set(weights) - set(state))}"
            )
        for name, tensor in state.items():
            shape = tuple(np.shape(weights[name]))
            if shape != tuple(tensor.shape):
                raise QuantumModelError(
                    f"{name} has shape {shape}, the model needs {tuple(tensor.shape)}"
                    + (
                        f" ({len(self.circuit.weights)} circuit weights for "
                        f"{self.circuit.num_qubits} qubits, {self.spec.reps} reps)"
                        if name == "quantum.weights"
                        else ""
                    )
                )
        self.load_state_dict(
            {k: torch.as_tensor(np.asarray(weights[k]), dtype=state[k].dtype) for k in state}
        )
