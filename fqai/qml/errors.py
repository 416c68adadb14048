"""Exceptions of :mod:`fqai.qml`."""

from __future__ import annotations

from fqai.errors import FqaiError


class QuantumModelError(FqaiError):
    """A quantum model cannot be built or run as asked: a bad spec, weights of the wrong shape,
    non-finite inputs or gradients."""


class CircuitMismatchError(QuantumModelError):
    """A recorded circuit (a manifest's OpenQASM 3) does not match what it declares: qubits,
    parameters, depth, two-qubit gates or digest."""


class QuantumBackendError(QuantumModelError):
    """A backend cannot run the circuit: unknown or unreachable, too few qubits, or gates its
    target lacks."""
