"""Where a classifier circuit runs: exact simulators and shot-based backends.

Every executor answers one question, for many parameter rows in **one** call: the ⟨Z_i⟩ of each
qubit, ``(rows, parameters) -> (rows, qubits)``. The rows of a training batch and all the
parameter-shifted rows of its gradient are one call each (:mod:`fqai.qml.gradients`).

* ``aer``, shots 0: Qiskit Aer's ``EstimatorV2`` with precision 0, exact expectation values of
  the ``Z_i`` observables, parameter rows broadcast against the observables.
* ``statevector``: fqai's numpy simulator (:mod:`fqai.qml.statevector`), exact, faster.
* ``aer`` with shots: the circuit measured, sampled by Aer's ``SamplerV2`` (noise-free);
  ⟨Z_i⟩ is the mean of ``1 - 2 b_i`` over the shots.
* ``fake:<device>`` with shots: a local fake IBM device of ``qiskit-ibm-runtime`` (its noise
  model on Aer), the circuit transpiled to the device's coupling map and basis gates first.
* ``ibm:<backend>`` with shots: IBM Quantum through ``qiskit-ibm-runtime`` (needs a saved
  account); an unreachable service is a :class:`QuantumBackendError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit

from fqai.qml.circuit import ClassifierCircuit
from fqai.qml.errors import QuantumBackendError, QuantumModelError
from fqai.qml.spec import ExecutionSettings
from fqai.qml.statevector import StatevectorSimulator

DEFAULT_FAKE_SMALL = "manila"  # 5 qubits, a line
DEFAULT_FAKE_LARGE = "toronto"  # 27 qubits, heavy hex
DENSITY_MATRIX_QUBITS = 12


class Executor(ABC):
    """⟨Z_i⟩ of one circuit for many parameter rows."""

    name: str = ""
    shots: int = 0

    def __init__(self, circuit: ClassifierCircuit) -> None:
        self.circuit = circuit
        self.calls = 0
        self.rows = 0

    @property
    def label(self) -> str:
        return self.name if self.shots == 0 else f"{self.name} ({self.shots} shots)"

    def run(self, values: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """``values`` ``(rows, len(circuit.parameters))`` → ``(rows, num_qubits)``.

        Raises
        ------
        QuantumModelError
            Wrong number of parameter columns, or a non-finite value.
        """
        values = np.asarray(values, dtype=np.float64)
        width = len(self.circuit.parameters)
        if values.ndim != 2 or values.shape[1] != width:
            raise QuantumModelError(
                f"parameter rows must have shape (rows, {width}) "
                f"({len(self.circuit.inputs)} inputs + {len(self.circuit.weights)} weights), "
                f"got {values.shape}"
            )
        if not np.isfinite(values).all():
            raise QuantumModelError("parameter values contain NaN or infinity")
        if len(values) == 0:
            return np.zeros((0, self.circuit.num_qubits))
        self.calls += 1
        self.rows += len(values)
        out = self._run(values)
        return np.asarray(out, dtype=np.float64).reshape(len(values), self.circuit.num_qubits)

    @abstractmethod
    def _run(self, values: NDArray[np.float64]) -> NDArray[np.float64]: ...

    def describe(self) -> dict[str, Any]:
        """What ran: backend, shots, and the executed circuit's figures."""
        return {
            "backend": self.name,
            "shots": self.shots,
            "depth": self.circuit.depth,
            "two_qubit_gates": self.circuit.two_qubit_gates,
        }


class StatevectorExecutor(Executor):
    name = "statevector"

    def __init__(self, circuit: ClassifierCircuit) -> None:
        super().__init__(circuit)
        self._sim = StatevectorSimulator(circuit)

    def _run(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._sim.expectations(values)


def _columns(circuit: QuantumCircuit, order: tuple[Any, ...]) -> list[int]:
    """For each parameter of ``circuit`` (Qiskit's sorted order), its column in ``order``."""
    by_name = {p.name: i for i, p in enumerate(order)}
    try:
        return [by_name[p.name] for p in circuit.parameters]
    except KeyError as exc:  # pragma: no cover - transpilation keeps the parameters
        raise QuantumModelError(f"executed circuit has an unknown parameter {exc}") from exc


class AerEstimatorExecutor(Executor):
    """Aer ``EstimatorV2``, precision 0: exact expectation values (no sampling noise)."""

    name = "aer"

    def __init__(self, circuit: ClassifierCircuit, seed: int = 0) -> None:
        super().__init__(circuit)
        from qiskit_aer.primitives import EstimatorV2

        self._estimator = EstimatorV2(
            options={
                "default_precision": 0.0,
                "backend_options": {"method": "statevector"},
                "run_options": {"seed_simulator": seed},
            }
        )
        self._cols = _columns(circuit.circuit, circuit.parameters)
        self._observables = [list(circuit.observables)]  # shape (1, qubits)

    def _run(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        bound = values[:, None, self._cols]  # (rows, 1, parameters) against (1, qubits)
        try:
            result = self._estimator.run(
                [(self.circuit.circuit, self._observables, bound)]
            ).result()
        except Exception as exc:  # Aer raises AerError and others
            raise QuantumBackendError(f"Aer EstimatorV2 failed: {exc}") from exc
        return np.asarray(result[0].data.evs)


def fake_device(name: str) -> Any:
    """A local fake IBM device of ``qiskit_ibm_runtime.fake_provider`` by short name
    (``manila``, ``toronto``, ``sherbrooke``, …; ``FakeManilaV2`` works too)."""
    from qiskit_ibm_runtime import fake_provider

    wanted = name.lower().removeprefix("fake").removeprefix("_")
    available = {}
    for attr in dir(fake_provider):
        if not attr.startswith("Fake") or attr.endswith("V1") or "Provider" in attr:
            continue
        short = attr.lower().removeprefix("fake")
        available[short] = attr
        available.setdefault(short.removesuffix("v2"), attr)
    if wanted not in available:
        raise QuantumBackendError(
            f"no fake device {name!r} in qiskit_ibm_runtime.fake_provider (e.g. manila, lima, "
            "toronto, sherbrooke)"
        )
    return getattr(fake_provider, available[wanted])()


def default_fake_device(num_qubits: int) -> str:
    """A fake device big enough: Manila (5 qubits) for up to 5, else Toronto (27)."""
    return DEFAULT_FAKE_SMALL if num_qubits <= 5 else DEFAULT_FAKE_LARGE


def check_isa(circuit: QuantumCircuit, target: Any, device: str) -> None:
    """Raise :class:`QuantumBackendError` naming the operations ``target`` does not support
    on the qubits the circuit applies them to."""
    missing: set[str] = set()
    for inst in circuit.data:
        name = inst.operation.name
        if name == "barrier":
            continue
        qargs = tuple(circuit.find_bit(q).index for q in inst.qubits)
        if not target.instruction_supported(name, qargs):
            missing.add(f"{name}{list(qargs)}")
    if missing:
        raise QuantumBackendError(
            f"{device} cannot run the circuit: it lacks {sorted(missing)[:8]} (supported: "
            f"{sorted(target.operation_names)}); transpile the circuit for it first"
        )


class SamplerExecutor(Executor):
    """Measure every qubit ``shots`` times; ⟨Z_i⟩ = mean of ``1 - 2 b_i``.

    Each call draws its simulator seed from a generator seeded by ``seed``, so a run is
    reproducible and successive calls (training steps) get fresh shots.
    """

    def __init__(
        self,
        circuit: ClassifierCircuit,
        backend: str,
        shots: int,
        seed: int = 0,
        *,
        transpile: bool = True,
        optimization_level: int = 1,
    ) -> None:
        super().__init__(circuit)
        if shots <= 0:
            raise QuantumModelError(f"a sampling backend needs shots > 0, got {shots}")
        self.name, self.shots = backend, shots
        self._rng = np.random.default_rng(seed)
        measured = circuit.circuit.copy()
        measured.measure_all()
        self._device: Any = None
        self._runtime_sampler: Any = None
        if backend == "aer":
            from qiskit_aer import AerSimulator

            self._sim: Any = AerSimulator(method="statevector")
            executed = measured
        elif backend.startswith("fake:"):
            from qiskit_aer import AerSimulator

            device = fake_device(backend.removeprefix("fake:"))
            self._device = device
            if device.num_qubits < circuit.num_qubits:
                raise QuantumBackendError(
                    f"{backend} has {device.num_qubits} qubits, the circuit needs "
                    f"{circuit.num_qubits}"
                )
            # Density matrix: exact noisy distribution per circuit, shots sampled from it (the
            # statevector method would simulate one noisy trajectory per shot).
            method = (
                "density_matrix" if circuit.num_qubits <= DENSITY_MATRIX_QUBITS else "automatic"
            )
            self._sim = AerSimulator.from_backend(device, method=method)
            executed = self._transpile(measured, device, seed, optimization_level, transpile)
        elif backend.startswith("ibm:"):
            device = self._ibm_backend(backend.removeprefix("ibm:"))
            self._device = device
            executed = self._transpile(measured, device, seed, optimization_level, transpile)
            from qiskit_ibm_runtime import SamplerV2 as RuntimeSampler

            self._runtime_sampler = RuntimeSampler(mode=device)
        else:
            raise QuantumBackendError(f"unknown sampling backend {backend!r}")
        self.executed = executed
        self._cols = _columns(executed, circuit.parameters)

    @staticmethod
    def _ibm_backend(name: str) -> Any:
        try:
            from qiskit_ibm_runtime import QiskitRuntimeService

            return QiskitRuntimeService().backend(name)
        except Exception as exc:  # no account, no network, unknown backend
            raise QuantumBackendError(f"IBM Quantum backend {name!r} unreachable: {exc}") from exc

    def _transpile(
        self,
        circuit: QuantumCircuit,
        device: Any,
        seed: int,
        level: int,
        transpile: bool,
    ) -> QuantumCircuit:
        label = self.name
        if transpile:
            from qiskit.transpiler import generate_preset_pass_manager

            try:
                manager = generate_preset_pass_manager(
                    optimization_level=level, backend=device, seed_transpiler=seed
                )
                circuit = manager.run(circuit)
            except Exception as exc:
                raise QuantumBackendError(f"cannot transpile for {label}: {exc}") from exc
        check_isa(circuit, device.target, label)
        return circuit

    def _run(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        bound = values[:, self._cols]
        seed = int(self._rng.integers(2**31 - 1))
        try:
            if self._runtime_sampler is not None:
                job = self._runtime_sampler.run([(self.executed, bound)], shots=self.shots)
            else:
                from qiskit_aer.primitives import SamplerV2

                sampler = SamplerV2.from_backend(self._sim, seed=seed, default_shots=self.shots)
                job = sampler.run([(self.executed, bound)])
            result = job.result()
        except QuantumBackendError:
            raise
        except Exception as exc:
            raise QuantumBackendError(f"{self.label} failed: {exc}") from exc
        bits = result[0].data.meas.to_bool_array(order="little")  # (rows, shots, qubits)
        return 1.0 - 2.0 * bits.mean(axis=-2)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["depth"] = self.executed.depth()
        out["two_qubit_gates"] = sum(
            1 for inst in self.executed.data if inst.operation.num_qubits == 2
        )
        if self._device is not None:
            out["device_qubits"] = int(self._device.num_qubits)
            out["basis_gates"] = sorted(
                g for g in self._device.target.operation_names if g not in ("measure", "delay")
            )
        return out


def make_executor(
    circuit: ClassifierCircuit,
    settings: ExecutionSettings | None = None,
    *,
    seed: int = 0,
    transpile: bool = True,
) -> Executor:
    """The executor ``settings`` name (exact ``aer`` by default)."""
    settings = settings or ExecutionSettings()
    if settings.shots == 0:
        if settings.backend == "statevector":
            return StatevectorExecutor(circuit)
        return AerEstimatorExecutor(circuit, seed=seed)
    return SamplerExecutor(circuit, settings.backend, settings.shots, seed, transpile=transpile)
