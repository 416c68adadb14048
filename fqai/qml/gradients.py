"""Exact gradients by the parameter-shift rule, and the torch autograd function around them.

For a gate ``exp(-i θ P / 2)`` with a Pauli ``P`` (every parameter of a classifier circuit is
the bare angle of one such gate, see :func:`fqai.qml.circuit.check_parameter_shift`):

    ∂⟨Z_i⟩/∂θ = (⟨Z_i⟩(θ + π/2) - ⟨Z_i⟩(θ - π/2)) / 2

exactly, not as a finite-difference approximation. All ``2 K`` shifted rows of every sample in a
batch go to the executor as **one** call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from fqai.qml.errors import QuantumModelError
from fqai.qml.executors import Executor

SHIFT = np.pi / 2


def parameter_shift_jacobian(
    executor: Executor, values: NDArray[np.float64], columns: Sequence[int]
) -> NDArray[np.float64]:
    """``(rows, len(columns), qubits)``: ∂⟨Z_i⟩/∂(values[:, c]) for each row and column ``c``,
    from one executor call on ``rows * 2 len(columns)`` shifted rows."""
    rows, width = values.shape
    k = len(columns)
    if k == 0:
        return np.zeros((rows, 0, executor.circuit.num_qubits))
    shifted = np.repeat(values[:, None, :], 2 * k, axis=1)  # (rows, 2k, width)
    index = np.arange(k)
    shifted[:, index, list(columns)] += SHIFT
    shifted[:, k + index, list(columns)] -= SHIFT
    out = executor.run(shifted.reshape(rows * 2 * k, width)).reshape(rows, 2 * k, -1)
    return (out[:, :k] - out[:, k:]) / 2


class QuantumExpectation(torch.autograd.Function):
    """``(inputs (B, n), weights (m,)) -> ⟨Z_i⟩ (B, qubits)`` on an executor, with
    parameter-shift backward (one executor call forward, one backward)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, inputs: torch.Tensor, weights: torch.Tensor, executor: Executor
    ) -> torch.Tensor:
        values = _rows(inputs, weights)
        ctx.executor = executor
        ctx.values = values
        ctx.num_inputs = inputs.shape[1]
        return torch.from_numpy(executor.run(values)).to(inputs.dtype)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        grad = grad_output.detach().double().numpy()
        if not np.isfinite(grad).all():
            raise QuantumModelError(
                "the gradient reaching the quantum layer contains NaN or infinity (diverged "
                "training: lower the learning rate)"
            )
        n_in = ctx.num_inputs
        width = ctx.values.shape[1]
        columns: list[int] = []
        if ctx.needs_input_grad[0]:
            columns += list(range(n_in))
        if ctx.needs_input_grad[1]:
            columns += list(range(n_in, width))
        jac = parameter_shift_jacobian(ctx.executor, ctx.values, columns)
        per_row = np.einsum("bq,bkq->bk", grad, jac)
        if not np.isfinite(per_row).all():
            raise QuantumModelError("the parameter-shift gradient is not finite")
        grad_in = grad_w = None
        offset = 0
        if ctx.needs_input_grad[0]:
            grad_in = torch.from_numpy(per_row[:, :n_in].copy()).to(grad_output.dtype)
            offset = n_in
        if ctx.needs_input_grad[1]:
            grad_w = torch.from_numpy(per_row[:, offset:].sum(axis=0)).to(grad_output.dtype)
        return grad_in, grad_w, None


def _rows(inputs: torch.Tensor, weights: torch.Tensor) -> NDArray[np.float64]:
    x = inputs.detach().double().cpu().numpy()
    w = weights.detach().double().cpu().numpy()
    if x.ndim != 2:
        raise QuantumModelError(f"inputs must have shape (batch, features), got {tuple(x.shape)}")
    if not (np.isfinite(x).all() and np.isfinite(w).all()):
        raise QuantumModelError("inputs or circuit weights contain NaN or infinity")
    return np.concatenate([x, np.broadcast_to(w, (len(x), len(w)))], axis=1)
