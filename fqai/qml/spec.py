"""What a hybrid quantum classifier is, by name: :class:`QuantumModelSpec` and where it runs.

The text form, used on the command line and in Flower configs, is ``quantum`` or
``quantum:key=value,...`` with the keys of :class:`QuantumModelSpec` and of
:class:`ExecutionSettings`, e.g. ``quantum:qubits=6,reps=3,entanglement=circular,backend=aer``.
Nothing here imports Qiskit, so parsing and validating a setting is cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from fqai.qml.errors import QuantumModelError

FAMILY = "quantum"
ENCODINGS = ("angle", "phase")
"""``angle``: RY(x_i) on qubit i; ``phase``: H then RZ(x_i) on qubit i."""
ENTANGLEMENTS = ("linear", "reverse_linear", "circular", "full", "pairwise")
ANSATZES = ("real_amplitudes",)
MIN_QUBITS, MAX_QUBITS = 1, 16
MAX_REPS = 16
EXACT_BACKENDS = ("aer", "statevector")
"""Backends that give exact expectation values (``shots = 0``)."""
MAX_SHOTS = 1_000_000
_BACKEND_RE = re.compile(r"^(aer|statevector|fake:[A-Za-z0-9_]+|ibm:[A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class QuantumModelSpec:
    """A hybrid classifier's circuit: ``qubits`` features encoded by ``encoding``, then
    ``reps`` layers of ``ansatz`` with ``entanglement``, read out as ⟨Z_i⟩ of every qubit.

    Raises
    ------
    QuantumModelError
        A value out of range or a name that is not one of the choices (the message lists them).
    """

    qubits: int = 4
    reps: int = 2
    entanglement: str = "linear"
    encoding: str = "angle"
    ansatz: str = "real_amplitudes"

    def __post_init__(self) -> None:
        if type(self.qubits) is not int or not MIN_QUBITS <= self.qubits <= MAX_QUBITS:
            raise QuantumModelError(
                f"qubits must be an integer in [{MIN_QUBITS}, {MAX_QUBITS}], got {self.qubits!r}"
            )
        if type(self.reps) is not int or not 1 <= self.reps <= MAX_REPS:
            raise QuantumModelError(
                f"reps must be an integer in [1, {MAX_REPS}], got {self.reps!r}"
            )
        _choice("entanglement", self.entanglement, ENTANGLEMENTS)
        _choice("encoding", self.encoding, ENCODINGS)
        _choice("ansatz", self.ansatz, ANSATZES)
        if self.qubits == 1 and self.entanglement != "linear":
            raise QuantumModelError("a single qubit has no entanglement: use entanglement=linear")

    @property
    def num_inputs(self) -> int:
        """Features the circuit encodes (one per qubit)."""
        return self.qubits

    @property
    def num_weights(self) -> int:
        """Trainable circuit parameters: one RY per qubit per layer, ``reps + 1`` layers."""
        return self.qubits * (self.reps + 1)

    def to_json(self) -> dict[str, int | str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ExecutionSettings:
    """Where the circuit runs while training: ``aer`` (Aer EstimatorV2, exact), ``statevector``
    (fqai's numpy simulator, exact), or with ``shots`` > 0 sampled on ``aer``, a local noisy
    ``fake:<device>`` or ``ibm:<backend>``."""

    backend: str = "aer"
    shots: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) or not _BACKEND_RE.match(self.backend):
            raise QuantumModelError(
                f"unknown backend {self.backend!r}; use aer, statevector, fake:<device> or "
                "ibm:<backend>"
            )
        if type(self.shots) is not int or not 0 <= self.shots <= MAX_SHOTS:
            raise QuantumModelError(f"shots must be an integer in [0, {MAX_SHOTS}]")
        if self.shots == 0 and self.backend not in EXACT_BACKENDS:
            raise QuantumModelError(f"backend {self.backend} samples: give shots > 0")
        if self.shots > 0 and self.backend == "statevector":
            raise QuantumModelError("the statevector backend is exact: use shots=0 or backend=aer")

    def to_json(self) -> dict[str, int | str]:
        return {"backend": self.backend, "shots": self.shots}


@dataclass(frozen=True)
class QuantumModelChoice:
    """A parsed ``quantum[:key=value,...]`` setting."""

    spec: QuantumModelSpec
    execution: ExecutionSettings

    def text(self) -> str:
        """The canonical text form (every key, fixed order): equal choices, equal text."""
        values = {**self.spec.to_json(), **self.execution.to_json()}
        return f"{FAMILY}:" + ",".join(f"{k}={v}" for k, v in values.items())


_INT_KEYS = {"qubits", "reps", "shots"}
_SPEC_KEYS = {f.name for f in fields(QuantumModelSpec)}
_EXEC_KEYS = {f.name for f in fields(ExecutionSettings)}


def parse_quantum_model(text: str) -> QuantumModelChoice:
    """Parse ``quantum`` or ``quantum:qubits=6,reps=2,...`` (unknown keys are errors).

    Raises
    ------
    QuantumModelError
        Not a quantum model setting, a malformed or unknown key, or an invalid value.
    """
    head, _, rest = text.strip().partition(":")
    if head != FAMILY:
        raise QuantumModelError(f"not a quantum model setting: {text!r}")
    values: dict[str, int | str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise QuantumModelError(f"expected key=value in {text!r}, got {item!r}")
        if key not in _SPEC_KEYS | _EXEC_KEYS:
            raise QuantumModelError(
                f"unknown quantum model key {key!r}; use {sorted(_SPEC_KEYS | _EXEC_KEYS)}"
            )
        if key in values:
            raise QuantumModelError(f"{key} given twice in {text!r}")
        if key in _INT_KEYS:
            try:
                values[key] = int(value)
            except ValueError as exc:
                raise QuantumModelError(f"{key} must be an integer, got {value!r}") from exc
        else:
            values[key] = value
    spec = QuantumModelSpec(**{k: v for k, v in values.items() if k in _SPEC_KEYS})  # type: ignore[arg-type]
    execution = ExecutionSettings(**{k: v for k, v in values.items() if k in _EXEC_KEYS})  # type: ignore[arg-type]
    return QuantumModelChoice(spec, execution)


def _choice(what: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise QuantumModelError(f"unknown {what} {value!r}; choose one of {list(choices)}")
