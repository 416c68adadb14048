"""QAOA for the selection problem on Qiskit Aer (exact or noisy) or an IBM Quantum backend.

Variants (``QaoaConfig.variant``):

* ``dicke-xy``: start in the Dicke state ``|D^n_k⟩``, XY mixer (``ring`` or ``complete``): every
  sample is a feasible k-subset. With no layers this *is* uniform random k-subset sampling, so
  P(optimum) / (1 / C(n, k)) measures what the layers add.
* ``warm-xy``: start in the classical answer's basis state, XY mixer: explores swaps around it.
* ``penalty``: start in ``|+⟩^n``, X mixer, constraint as a penalty ``P (Σx - k)^2``.

Angles: ``transfer`` uses the angles stored in ``angles.json`` (optimised once on small random
instances by ``bench/qaoa_angles.py``; costs are normalised to unit spread over the states the
circuit can reach, so angles carry across instances), ``optimise`` runs COBYLA from the stored
angles (or a linear ramp when none are stored) on the exact expectation or CVaR computed from an
Aer statevector and the precomputed diagonal cost. The answer is the best feasible bitstring among
``shots`` samples of the final circuit.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import qaoa_ansatz
from qiskit_aer import AerSimulator

from fqai.errors import FqaiError
from fqai.quantum.circuits import (
    basis_state,
    cost_operator,
    dicke_state,
    uniform_state,
    xy_mixer,
)
from fqai.quantum.problem import SelectionProblem, hamming_weights, positions_to_index

VARIANTS = ("dicke-xy", "warm-xy", "penalty")
OBJECTIVES = ("expectation", "cvar")
ANGLE_MODES = ("transfer", "optimise")
#: Statevector simulation of more qubits than this is refused (memory, time): fallback instead.
MAX_SIM_QUBITS = 22
BASIS_GATES = ["cx", "rz", "sx", "x"]
DIAG_CHUNK = 1 << 16
#: Parameter names that ``qaoa_ansatz`` gives the cost and mixer angles.
GAMMA, BETA = "\u03b3", "\u03b2"


class QaoaError(FqaiError):
    """QAOA could not run: bad configuration, too many qubits, unreachable backend."""


class BudgetExceededError(QaoaError):
    """The QAOA step ran past its time budget."""


@dataclass(frozen=True)
class QaoaConfig:
    """How the quantum step runs; every field is recorded with the result."""

    variant: str = "dicke-xy"
    # Measured best (docs/benchmarks/quantum.md): the complete XY mixer reaches far higher
    # P(optimum) than the ring at n >= 10, for more two-qubit gates.
    mixer: str = "complete"
    reps: int = 2
    objective: str = "cvar"
    alpha: float = 0.2
    angles: str = "optimise"
    maxiter: int = 100
    shots: int = 1000
    backend: str = "aer"
    time_budget: float = 20.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise QaoaError(f"unknown QAOA variant {self.variant!r}; use one of {VARIANTS}")
        if self.objective not in OBJECTIVES:
            raise QaoaError(f"unknown QAOA objective {self.objective!r}; use one of {OBJECTIVES}")
        if self.angles not in ANGLE_MODES:
            raise QaoaError(f"unknown angle mode {self.angles!r}; use one of {ANGLE_MODES}")
        if self.mixer not in ("ring", "complete"):
            raise QaoaError(f"unknown XY mixer {self.mixer!r}; use 'ring' or 'complete'")
        if not 1 <= self.reps <= 10:
            raise QaoaError(f"QAOA reps must be 1..10, got {self.reps}")
        if not 0 < self.alpha <= 1:
            raise QaoaError(f"CVaR alpha must be in (0, 1], got {self.alpha}")
        if self.shots < 1:
            raise QaoaError(f"shots must be >= 1, got {self.shots}")
        if not self.time_budget >= 0:
            raise QaoaError(f"time budget must be >= 0 s, got {self.time_budget}")

    @property
    def angle_key(self) -> str:
        mixer = f"-{self.mixer}" if self.variant != "penalty" else ""
        return f"{self.variant}{mixer}-{self.objective}-p{self.reps}"

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "mixer": self.mixer if self.variant != "penalty" else "x",
            "reps": self.reps,
            "objective": self.objective,
            "alpha": self.alpha if self.objective == "cvar" else None,
            "angles": self.angles,
            "maxiter": self.maxiter,
            "shots": self.shots,
            "backend": self.backend,
            "time_budget_s": self.time_budget,
        }


@dataclass(frozen=True)
class CircuitStats:
    """Size of the circuit as run: qubits, depth and two-qubit gates after transpilation."""

    width: int
    depth: int
    two_qubit_gates: int
    basis: str

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "depth": self.depth,
            "two_qubit_gates": self.two_qubit_gates,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class QaoaResult:
    """The quantum step's answer and everything needed to judge it."""

    positions: tuple[int, ...] | None
    objective: float | None
    p_feasible: float
    p_optimum: float
    p_optimum_uniform: float
    feasible_samples: int
    shots: int
    angles: dict[str, list[float]]
    evaluations: int
    circuit: CircuitStats
    seconds: float
    probabilities_from: str
    config: QaoaConfig
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "positions": list(self.positions) if self.positions is not None else None,
            "objective": self.objective,
            "p_feasible": self.p_feasible,
            "p_optimum": self.p_optimum,
            "p_optimum_over_uniform": (
                self.p_optimum / self.p_optimum_uniform if self.p_optimum_uniform else None
            ),
            "feasible_samples": self.feasible_samples,
            "shots": self.shots,
            "angles": self.angles,
            "evaluations": self.evaluations,
            "circuit": self.circuit.to_json(),
            "seconds": round(self.seconds, 6),
            "probabilities_from": self.probabilities_from,
            "config": self.config.to_json(),
            **self.extra,
        }


@cache
def stored_angles() -> dict[str, dict[str, list[float]]]:
    """The transferred angles shipped with the package (``fqai/quantum/angles.json``)."""
    text = resources.files("fqai.quantum").joinpath("angles.json").read_text()
    data = json.loads(text)
    return {k: v for k, v in data["angles"].items()}


def penalty_weight(problem: SelectionProblem) -> float:
    """A penalty ``P`` large enough that leaving the constraint by one node never pays.

    Adding a node gains at most ``max s_i``; dropping one gains at most
    ``max_i (λ Σ_j r_ij - s_i)``; ``P`` exceeds both by 10 % (and is at least 1e-6).
    """
    add = float(problem.scores.max())
    drop = float((problem.lam * problem.redundancy.sum(axis=1) - problem.scores).max())
    return max(add, drop, 0.0) * 1.1 + 1e-6


def diagonal_cost(
    problem: SelectionProblem, penalty: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """``-f(x) + P (|x| - k)^2`` for every basis index, and the feasibility mask."""
    n = problem.n
    size = 1 << n
    cost = np.empty(size)
    feasible = np.empty(size, dtype=bool)
    shifts = np.arange(n)
    for lo in range(0, size, DIAG_CHUNK):
        index = np.arange(lo, min(size, lo + DIAG_CHUNK), dtype=np.int64)
        bits = ((index[:, None] >> shifts) & 1).astype(np.float64)
        weight = bits.sum(axis=1)
        cost[lo : lo + len(index)] = (
            -problem.objective_rows(bits) + penalty * (weight - problem.k) ** 2
        )
        feasible[lo : lo + len(index)] = weight == problem.k
    return cost, feasible


def cvar(probs: NDArray[np.float64], cost_sorted: NDArray[np.float64], alpha: float) -> float:
    """Mean cost of the best ``alpha`` probability mass (``probs`` in ascending-cost order)."""
    cum = np.cumsum(probs)
    cut = int(np.searchsorted(cum, alpha))
    if cut >= len(probs):
        return float(probs @ cost_sorted / max(cum[-1], 1e-300))
    head = float(probs[:cut] @ cost_sorted[:cut])
    before = float(cum[cut - 1]) if cut else 0.0
    return (head + (alpha - before) * float(cost_sorted[cut])) / alpha


def initial_vector(
    variant: str, n: int, k: int, warm_start: tuple[int, ...] | None
) -> NDArray[np.complex128]:
    """Exact initial state of a variant (the tests check it against the preparing circuit)."""
    size = 1 << n
    if variant == "dicke-xy":
        weights = hamming_weights(n)
        vec = np.where(weights == k, 1 / math.sqrt(math.comb(n, k)), 0.0)
    elif variant == "warm-xy":
        vec = np.zeros(size)
        vec[positions_to_index(warm_start or ())] = 1.0
    else:
        vec = np.full(size, 1 / math.sqrt(size))
    return vec.astype(np.complex128)


def ramp_angles(reps: int) -> dict[str, list[float]]:
    """A linear-ramp start (annealing-like) when no angles are stored."""
    gammas = [0.8 * (i + 0.5) / reps for i in range(reps)]
    betas = [0.8 * (1 - (i + 0.5) / reps) for i in range(reps)]
    return {"gamma": gammas, "beta": betas}


class SelectionQaoa:
    """One QAOA instance: circuit built and transpiled once, evaluated many times."""

    def __init__(
        self,
        problem: SelectionProblem,
        config: QaoaConfig,
        *,
        warm_start: tuple[int, ...] | None = None,
        seed: int = 0,
    ) -> None:
        n = problem.n
        if n > MAX_SIM_QUBITS and config.backend == "aer":
            raise QaoaError(
                f"{n} qubits exceed the statevector limit of {MAX_SIM_QUBITS} for the aer backend"
            )
        if config.variant == "warm-xy" and warm_start is None:
            raise QaoaError("the warm-xy variant needs a classical answer to start from")
        self.problem = problem
        self.config = config
        self.seed = seed
        self.penalty = penalty_weight(problem) if config.variant == "penalty" else 0.0
        raw, self.feasible = diagonal_cost(problem, self.penalty)
        reachable = self.feasible if config.variant != "penalty" else np.ones_like(self.feasible)
        values = raw[reachable]
        self.offset = float(values.mean())
        spread = float(values.std())
        self.scale = spread if spread > 1e-12 else 1.0
        self.cost = (raw - self.offset) / self.scale
        self.order = np.argsort(self.cost, kind="stable")
        self.cost_sorted = self.cost[self.order]
        feasible_cost = raw[self.feasible]
        self.optimum_cost = float(feasible_cost.min())
        self.optimal = self.feasible & (raw <= self.optimum_cost + 1e-9)
        self.uniform = float(self.optimal.sum()) / (
            math.comb(n, problem.k) if config.variant != "penalty" else float(1 << n)
        )
        if config.variant == "dicke-xy":
            initial = dicke_state(n, problem.k)
        elif config.variant == "warm-xy":
            assert warm_start is not None
            initial = basis_state(n, warm_start)
        else:
            initial = uniform_state(n)
        mixer = xy_mixer(n, config.mixer) if config.variant != "penalty" else None
        op = cost_operator(problem, scale=self.scale, penalty=self.penalty)
        # The full circuit (what is sampled and what the statistics describe) ...
        self.ansatz = qaoa_ansatz(op, reps=config.reps, initial_state=initial, mixer_operator=mixer)
        # ... and, for the many evaluations of the angle search, the same layers started from
        # the initial state's exact vector (the Dicke preparation alone is most of the gates).
        layers = qaoa_ansatz(
            op, reps=config.reps, initial_state=QuantumCircuit(n), mixer_operator=mixer
        )
        self.simulator = AerSimulator(method="statevector", seed_simulator=seed)
        compiled = transpile(layers, self.simulator, optimization_level=1, seed_transpiler=seed)
        self.sv_circuit = QuantumCircuit(n)
        self.sv_circuit.set_statevector(initial_vector(config.variant, n, problem.k, warm_start))
        self.sv_circuit.compose(compiled, inplace=True)
        self.sv_circuit.save_statevector()
        self.params = {p.name: p for p in compiled.parameters}
        self.evaluations = 0

    def circuit_stats(self) -> CircuitStats:
        """Width, depth and CX count of the ansatz transpiled to ``cx, rz, sx, x``."""
        return _stats(self.ansatz, self.seed)

    def bind(self, angles: dict[str, list[float]]) -> dict[Any, float]:
        """Parameter values by name (Greek gamma[i], beta[i]), checked against the circuit."""
        values = {self.params[name]: v for name, v in self.bind_names(angles).items()}
        if len(values) != len(self.params):
            raise QaoaError(f"circuit parameters {sorted(self.params)} not all bound")
        return values

    def statevector(self, angles: dict[str, list[float]]) -> NDArray[np.complex128]:
        """The final state on Aer for the given angles."""
        bound = self.sv_circuit.assign_parameters(self.bind(angles))
        result = self.simulator.run(bound).result()
        self.evaluations += 1
        return np.asarray(result.get_statevector(), dtype=np.complex128)

    def energy(self, angles: dict[str, list[float]]) -> float:
        """The optimised quantity (normalised cost): expectation or CVaR_alpha."""
        probs = np.abs(self.statevector(angles)) ** 2
        if self.config.objective == "expectation":
            return float(probs @ self.cost)
        return cvar(probs[self.order], self.cost_sorted, self.config.alpha)

    def optimise(self, start: dict[str, list[float]], deadline: float) -> dict[str, list[float]]:
        """COBYLA over the angles from ``start``; :class:`BudgetExceededError` at the deadline."""
        from scipy.optimize import minimize

        reps = self.config.reps

        def unpack(v: NDArray[np.float64]) -> dict[str, list[float]]:
            return {"gamma": v[:reps].tolist(), "beta": v[reps:].tolist()}

        def fun(v: NDArray[np.float64]) -> float:
            if time.perf_counter() > deadline:
                raise BudgetExceededError(
                    f"time budget of {self.config.time_budget:g} s exceeded after "
                    f"{self.evaluations} circuit evaluation(s)"
                )
            return self.energy(unpack(v))

        x0 = np.asarray(start["gamma"] + start["beta"], dtype=np.float64)
        res = minimize(
            fun, x0, method="COBYLA", options={"maxiter": self.config.maxiter, "rhobeg": 0.2}
        )
        return unpack(np.asarray(res.x))

    def sample(self, angles: dict[str, list[float]]) -> tuple[dict[int, int], str]:
        """``shots`` samples of the final circuit as ``{basis index: count}`` and the source."""
        return _sample(self.ansatz, self.bind_names(angles), self.config, self.seed)

    def bind_names(self, angles: dict[str, list[float]]) -> dict[str, float]:
        out = {}
        for i in range(self.config.reps):
            out[f"{GAMMA}[{i}]"] = float(angles["gamma"][i])
            out[f"{BETA}[{i}]"] = float(angles["beta"][i])
        return out


def _stats(circuit: QuantumCircuit, seed: int) -> CircuitStats:
    compiled = transpile(
        circuit, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=seed
    )
    ops = compiled.count_ops()
    return CircuitStats(
        width=circuit.num_qubits,
        depth=compiled.depth(),
        two_qubit_gates=int(ops.get("cx", 0)),
        basis=",".join(BASIS_GATES),
    )


def _sample(
    ansatz: QuantumCircuit, names: dict[str, float], config: QaoaConfig, seed: int
) -> tuple[dict[int, int], str]:
    by_name = {p.name: p for p in ansatz.parameters}
    bound = ansatz.assign_parameters({by_name[k]: v for k, v in names.items()})
    measured = bound.copy()
    measured.measure_all()
    backend = config.backend
    if backend == "aer":
        sim = AerSimulator(seed_simulator=seed)
        compiled = transpile(measured, sim, optimization_level=1, seed_transpiler=seed)
        counts = sim.run(compiled, shots=config.shots).result().get_counts()
        source = "aer"
    elif backend.startswith("fake:"):
        device = fake_backend(backend.removeprefix("fake:"))
        sim = AerSimulator.from_backend(device, seed_simulator=seed)
        compiled = transpile(measured, device, optimization_level=1, seed_transpiler=seed)
        counts = sim.run(compiled, shots=config.shots).result().get_counts()
        source = f"aer noise model of {device.name}"
    elif backend.startswith("ibm:"):
        counts, source = _run_ibm(measured, backend.removeprefix("ibm:"), config.shots)
    else:
        raise QaoaError(f"unknown backend {backend!r}; use aer, fake:<device> or ibm:<backend>")
    return {int(key.replace(" ", ""), 2): int(v) for key, v in counts.items()}, source


def fake_backend(name: str) -> Any:
    """A local fake IBM device from ``qiskit-ibm-runtime`` by name (``sherbrooke``, ...)."""
    from qiskit_ibm_runtime import fake_provider

    wanted = name.lower().removeprefix("fake_").removeprefix("fake")
    for attr in dir(fake_provider):
        if attr.lower() == f"fake{wanted}" and not attr.endswith("V1"):
            return getattr(fake_provider, attr)()
    raise QaoaError(f"no fake backend {name!r} in qiskit_ibm_runtime.fake_provider")


def _run_ibm(circuit: QuantumCircuit, name: str, shots: int) -> tuple[dict[str, int], str]:
    """Sample on an IBM Quantum backend (needs a saved ``QiskitRuntimeService`` account)."""
    try:
        from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2

        service = QiskitRuntimeService()
        device = service.backend(name)
        compiled = transpile(circuit, device, optimization_level=1)
        job = SamplerV2(mode=device).run([compiled], shots=shots)
        counts = job.result()[0].data.meas.get_counts()
    except Exception as exc:  # network, credentials, queue: all mean "not reachable now"
        raise QaoaError(f"IBM Quantum backend {name!r} unreachable: {exc}") from exc
    return counts, f"ibm:{name}"


def run_qaoa(
    problem: SelectionProblem,
    config: QaoaConfig,
    *,
    seed: int,
    warm_start: tuple[int, ...] | None = None,
) -> QaoaResult:
    """Build, tune (per ``config.angles``) and sample the circuit; best feasible sample wins.

    Raises
    ------
    BudgetExceededError
        ``config.time_budget`` ran out (0 means: do not run).
    QaoaError
        Too many qubits for the simulator, unknown variant or backend, backend unreachable.
    """
    start = time.perf_counter()
    if config.time_budget == 0:
        raise BudgetExceededError("time budget is 0 s: the quantum step was not run")
    deadline = start + config.time_budget
    qaoa = SelectionQaoa(problem, config, warm_start=warm_start, seed=seed)
    angles = stored_angles().get(config.angle_key) or ramp_angles(config.reps)
    if config.angles == "optimise":
        angles = qaoa.optimise(angles, deadline)
    state = qaoa.statevector(angles)
    probs = np.abs(state) ** 2
    counts, source = qaoa.sample(angles)
    if time.perf_counter() > deadline:
        raise BudgetExceededError(
            f"time budget of {config.time_budget:g} s exceeded "
            f"({time.perf_counter() - start:.2f} s)"
        )
    best: int | None = None
    feasible_samples = 0
    for index, count in counts.items():
        if not qaoa.feasible[index]:
            continue
        feasible_samples += count
        if best is None or qaoa.cost[index] < qaoa.cost[best]:
            best = index
    if config.backend == "aer":
        p_feasible = min(1.0, float(probs[qaoa.feasible].sum()))
        p_optimum = min(1.0, float(probs[qaoa.optimal].sum()))
        where = "statevector"
    else:
        total = sum(counts.values())
        p_feasible = feasible_samples / total
        p_optimum = sum(c for i, c in counts.items() if qaoa.optimal[i]) / total
        where = f"samples ({source})"
    positions = tuple(i for i in range(problem.n) if (best >> i) & 1) if best is not None else None
    return QaoaResult(
        positions=positions,
        objective=problem.objective(positions) if positions is not None else None,
        p_feasible=p_feasible,
        p_optimum=p_optimum,
        p_optimum_uniform=qaoa.uniform,
        feasible_samples=feasible_samples,
        shots=config.shots,
        angles=angles,
        evaluations=qaoa.evaluations,
        circuit=qaoa.circuit_stats(),
        seconds=time.perf_counter() - start,
        probabilities_from=where,
        config=config,
        extra={"sampled_on": source, "penalty": qaoa.penalty or None},
    )
