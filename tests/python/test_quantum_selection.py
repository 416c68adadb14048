"""fqai.quantum: the selection problem, its classical solvers and the QAOA, without Flower.

The QAOA's states are cross-checked against an independent numpy simulation of the same
circuit (diagonal cost phases, XY mixer as rotations on each pair's {|01>, |10>} block, X mixer
as single-qubit rotations), and its circuits' invariants (Dicke amplitudes, Hamming weight kept
by the XY mixer, the penalty form's feasible optimum) are checked on random instances.
"""

from __future__ import annotations

import math
import re
from itertools import combinations

import numpy as np
import pytest
from numpy.typing import NDArray
from qiskit.quantum_info import Statevector

from fqai.quantum import classical
from fqai.quantum.circuits import cost_operator, dicke_state, mixer_pairs
from fqai.quantum.problem import (
    SelectionInputError,
    SelectionProblem,
    bits_to_positions,
    hamming_weights,
    positions_to_index,
)
from fqai.quantum.qaoa import (
    QaoaConfig,
    QaoaError,
    SelectionQaoa,
    cvar,
    diagonal_cost,
    ramp_angles,
    run_qaoa,
    stored_angles,
)
from fqai.quantum.select import _with_qaoa, approximation_ratio, select_clients


def instance(n: int, seed: int, k: int | None = None, lam: float = 1.0) -> SelectionProblem:
    """Seeded scores in [0, 1] and clipped cosine redundancy of clustered random vectors."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 6))
    vecs = centres[rng.integers(3, size=n)] + 0.7 * rng.normal(size=(n, 6))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    r = np.clip(vecs @ vecs.T, 0, 1)
    np.fill_diagonal(r, 0)
    return SelectionProblem.build(range(100, 100 + n), rng.random(n), r, k or n // 2, lam)


def brute_force(problem: SelectionProblem) -> tuple[float, list[tuple[int, ...]]]:
    """Optimum and optimal sets by plain Python over all k-subsets."""
    best, sets = -math.inf, []
    for combo in combinations(range(problem.n), problem.k):
        value = sum(problem.scores[i] for i in combo) - problem.lam * sum(
            problem.redundancy[i, j] for i, j in combinations(combo, 2)
        )
        if value > best + 1e-12:
            best, sets = value, [combo]
        elif abs(value - best) <= 1e-12:
            sets.append(combo)
    return best, sets


# --- inputs ---------------------------------------------------------------------------------


def test_bad_inputs_are_refused_with_the_reason() -> None:
    r2 = [[0, 0.5], [0.5, 0]]
    cases = [
        (([], [], [], 1), "no candidates"),
        (([1, 1], [0.1, 0.2], r2, 1), "duplicate candidate ids: [1]"),
        (([1, 2], [0.1, 0.2], r2, 3), "k = 3 is outside 1..2"),
        (([1, 2], [0.1, 0.2], r2, 0), "k = 0 is outside 1..2"),
        (([1, 2], [float("nan"), 0.2], r2, 1), "non-finite score for candidate(s) [1]"),
        (([1, 2], [0.1, float("inf")], r2, 1), "non-finite score for candidate(s) [2]"),
        (([1, 2], [0.1], r2, 1), "expected 2 scores"),
        (([1, 2], [0.1, 0.2], [[0, 0.5], [0.4, 0]], 1), "not symmetric: r[0][1] = 0.5"),
        (([1, 2], [0.1, 0.2], [[0, 0.5]], 1), "redundancy must be 2x2"),
        (([1, 2], [0.1, 0.2], [[0, float("nan")], [float("nan"), 0]], 1), "non-finite"),
    ]
    for args, message in cases:
        with pytest.raises(SelectionInputError, match=re.escape(message)):
            select_clients(*args, seed=0)
    with pytest.raises(SelectionInputError, match="lambda"):
        select_clients([1, 2], [0.1, 0.2], r2, 1, seed=0, lam=-1)
    with pytest.raises(SelectionInputError, match="unknown solver 'quantum'"):
        select_clients([1, 2], [0.1, 0.2], r2, 1, seed=0, solver="quantum")


def test_singleton_and_all_candidates() -> None:
    for solver in ("best", "exact", "greedy", "annealing", "random", "qaoa"):
        one = select_clients([7], [0.3], [[0.0]], 1, solver=solver, seed=1)
        assert one.chosen == (7,)
        both = select_clients([9, 4], [0.3, 0.1], [[0, 1], [1, 0]], 2, solver=solver, seed=1)
        assert both.chosen == (4, 9)
        assert both.objective == pytest.approx(0.4 - 1.0)


def test_objective_by_hand() -> None:
    p = SelectionProblem.build(
        [1, 2, 3], [1.0, 2.0, 3.0], [[0, 0.5, 0.1], [0.5, 0, 0.2], [0.1, 0.2, 0]], 2, 2.0
    )
    assert p.objective((0, 1)) == pytest.approx(3 - 2 * 0.5)
    assert p.objective((1, 2)) == pytest.approx(5 - 2 * 0.2)
    assert p.objective_rows(np.array([[1, 0, 1], [1, 1, 1]])).tolist() == pytest.approx(
        [4 - 0.2, 6 - 2 * 0.8]
    )
    assert bits_to_positions(positions_to_index((0, 2, 5)), 6) == (0, 2, 5)


# --- classical solvers ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_exact_matches_brute_force_and_annealing_finds_it(seed: int) -> None:
    p = instance(9 + seed % 3, seed)
    best, sets = brute_force(p)
    ex = classical.exact(p)
    assert ex.objective == pytest.approx(best)
    assert ex.positions == min(sets)  # ties: lexicographically first
    assert classical.annealing(p, seed).objective == pytest.approx(best)
    assert classical.objective_range(p)[1] == pytest.approx(best)
    assert classical.greedy(p).objective <= best + 1e-12
    assert classical.random_sampling(p, seed, 5).objective <= best + 1e-12


def test_greedy_by_hand() -> None:
    # Scores favour 0 then 1, but 1 is a near-copy of 0: greedy takes 0, then 2.
    p = SelectionProblem.build(
        [10, 11, 12], [1.0, 0.9, 0.5], [[0, 0.9, 0], [0.9, 0, 0], [0, 0, 0]], 2, 1.0
    )
    g = classical.greedy(p)
    assert g.positions == (0, 2)
    assert g.objective == pytest.approx(1.5)


def test_random_sampling_is_seeded_and_improves_with_shots() -> None:
    p = instance(12, 3)
    a = classical.random_sampling(p, 5, 50)
    assert classical.random_sampling(p, 5, 50).positions == a.positions
    assert classical.random_sampling(p, 5, 2000).objective >= a.objective - 1e-12
    with pytest.raises(ValueError, match="shots"):
        classical.random_sampling(p, 5, 0)


def test_best_classical_switches_to_annealing_above_the_exact_limit() -> None:
    assert classical.best_classical(instance(10, 1), 0).solver == "exact"
    big = instance(classical.EXACT_MAX_N + 2, 1)
    assert classical.best_classical(big, 0).solver == "annealing"


# --- circuits -------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(1, 1), (2, 1), (4, 2), (5, 3), (6, 1), (7, 4), (8, 8)])
def test_dicke_circuit_prepares_the_uniform_weight_k_state(n: int, k: int) -> None:
    state = Statevector(dicke_state(n, k)).data
    expected = np.where(hamming_weights(n) == k, 1 / math.sqrt(math.comb(n, k)), 0.0)
    np.testing.assert_allclose(state, expected, atol=1e-10)


@pytest.mark.parametrize("penalty", [False, True])
def test_cost_operator_diagonal_is_the_objective(penalty: bool) -> None:
    p = instance(6, 4)
    weight = 1.7 if penalty else 0.0
    diag = np.real(cost_operator(p, scale=2.0, penalty=weight).to_matrix(sparse=True).diagonal())
    raw, _ = diagonal_cost(p, weight)
    # Equal up to the dropped constant and the scale.
    np.testing.assert_allclose(diag - diag[0], (raw - raw[0]) / 2.0, atol=1e-12)


def test_penalty_never_lets_an_infeasible_state_win() -> None:
    from fqai.quantum.qaoa import penalty_weight

    for seed in range(5):
        p = instance(8, seed)
        raw, feasible = diagonal_cost(p, penalty_weight(p))
        assert raw[~feasible].min() > raw[feasible].min()


def numpy_qaoa(
    problem: SelectionProblem,
    config: QaoaConfig,
    angles: dict[str, list[float]],
    qaoa: SelectionQaoa,
) -> NDArray[np.complex128]:
    """The same circuit simulated with plain numpy (independent of Qiskit's gates)."""
    n = problem.n
    index = np.arange(1 << n)
    bits = (index[:, None] >> np.arange(n)) & 1
    if config.variant == "dicke-xy":
        psi = np.where(bits.sum(axis=1) == problem.k, 1.0, 0.0).astype(complex)
        psi /= np.linalg.norm(psi)
    else:
        psi = np.full(1 << n, 1 / math.sqrt(1 << n), dtype=complex)
    phases = qaoa.cost  # normalised cost = operator diagonal up to a constant (global phase)
    for gamma, beta in zip(angles["gamma"], angles["beta"], strict=True):
        psi = psi * np.exp(-1j * gamma * phases)
        if config.variant == "penalty":
            for q in range(n):
                flipped = psi[index ^ (1 << q)]
                psi = math.cos(beta) * psi - 1j * math.sin(beta) * flipped
        else:
            for i, j in mixer_pairs(n, config.mixer):
                swap = index ^ ((1 << i) | (1 << j))
                differ = bits[:, i] != bits[:, j]
                # exp(-i beta (XX + YY) / 2) rotates |01> <-> |10> by beta, leaves |00>, |11>.
                psi = np.where(differ, math.cos(beta) * psi - 1j * math.sin(beta) * psi[swap], psi)
    return psi


@pytest.mark.parametrize(
    ("variant", "mixer"), [("dicke-xy", "ring"), ("dicke-xy", "complete"), ("penalty", "ring")]
)
def test_aer_states_match_an_independent_numpy_simulation(variant: str, mixer: str) -> None:
    p = instance(7, 2, k=3)
    config = QaoaConfig(variant=variant, mixer=mixer, reps=2)
    qaoa = SelectionQaoa(p, config, seed=0)
    angles = {"gamma": [0.31, -0.7], "beta": [0.45, 0.12]}
    aer = qaoa.statevector(angles)
    ref = numpy_qaoa(p, config, angles, qaoa)
    assert abs(np.vdot(ref, aer)) == pytest.approx(1.0, abs=1e-9)
    probs_aer, probs_ref = np.abs(aer) ** 2, np.abs(ref) ** 2
    np.testing.assert_allclose(probs_aer, probs_ref, atol=1e-10)
    assert qaoa.energy(angles) == pytest.approx(
        cvar(probs_ref[qaoa.order], qaoa.cost_sorted, config.alpha), abs=1e-9
    )
    if variant == "dicke-xy":  # the XY mixer keeps every amplitude in weight k
        assert probs_aer[hamming_weights(7) != 3].sum() < 1e-12
    # The full circuit (Dicke preparation included) gives the same state as the shortcut.
    by_name = {q.name: q for q in qaoa.ansatz.parameters}
    full = Statevector(qaoa.ansatz.assign_parameters(
        {by_name[k]: v for k, v in qaoa.bind_names(angles).items()}
    )).data  # fmt: skip
    assert abs(np.vdot(full, aer)) == pytest.approx(1.0, abs=1e-9)


def test_cvar_by_hand() -> None:
    probs = np.array([0.1, 0.3, 0.6])
    costs = np.array([-2.0, 0.0, 1.0])
    assert cvar(probs, costs, 0.1) == pytest.approx(-2.0)
    assert cvar(probs, costs, 0.2) == pytest.approx((0.1 * -2 + 0.1 * 0) / 0.2)
    assert cvar(probs, costs, 1.0) == pytest.approx(probs @ costs)


# --- QAOA runs ------------------------------------------------------------------------------


def test_dicke_qaoa_samples_only_feasible_selections_and_beats_uniform() -> None:
    p = instance(10, 7)
    result = run_qaoa(p, QaoaConfig(reps=2, shots=500), seed=3)
    assert result.p_feasible == pytest.approx(1.0)
    assert result.feasible_samples == 500
    assert result.positions is not None and len(result.positions) == p.k
    f_min, f_opt = classical.objective_range(p)
    assert result.objective is not None
    assert approximation_ratio(result.objective, f_min, f_opt) > 0.9
    # Optimised angles must put more weight on the optimum than uniform k-subset sampling.
    assert result.p_optimum > result.p_optimum_uniform
    assert result.circuit.width == 10 and result.circuit.two_qubit_gates > 0


def test_qaoa_is_reproducible_for_a_seed() -> None:
    p = instance(8, 1)
    a = run_qaoa(p, QaoaConfig(reps=1, maxiter=30, shots=200), seed=11)
    b = run_qaoa(p, QaoaConfig(reps=1, maxiter=30, shots=200), seed=11)
    assert a.positions == b.positions and a.angles == b.angles
    assert a.p_optimum == pytest.approx(b.p_optimum)


def test_bad_qaoa_settings_are_refused() -> None:
    for kwargs, message in [
        ({"variant": "grover"}, "unknown QAOA variant"),
        ({"objective": "max"}, "unknown QAOA objective"),
        ({"reps": 0}, "reps"),
        ({"shots": 0}, "shots"),
        ({"alpha": 0}, "alpha"),
        ({"time_budget": -1}, "budget"),
        ({"mixer": "star"}, "XY mixer"),
    ]:
        with pytest.raises(QaoaError, match=message):
            QaoaConfig(**kwargs)


def test_stored_angles_are_well_formed() -> None:
    angles = stored_angles()
    for key, value in angles.items():
        reps = int(key.rsplit("-p", 1)[1])
        assert len(value["gamma"]) == len(value["beta"]) == reps, key
        assert all(math.isfinite(v) for v in value["gamma"] + value["beta"])
    assert ramp_angles(3)["gamma"][0] < ramp_angles(3)["gamma"][2]


# --- select_clients with QAOA beside the classical answer -----------------------------------


def test_qaoa_record_has_both_answers_and_their_figures() -> None:
    p = instance(8, 5)
    out = select_clients(
        p.candidates, p.scores, p.redundancy, p.k, solver="qaoa", seed=2,
        qaoa=QaoaConfig(reps=1, maxiter=40, shots=300),
    )  # fmt: skip
    rec = out.record
    assert rec["classical"]["solver"] == "exact"
    assert rec["classical"]["approximation_ratio"] == pytest.approx(1.0)
    q = rec["qaoa"]
    for key in ("objective", "approximation_ratio", "p_feasible", "p_optimum_over_uniform",
                "shots", "circuit", "seconds", "config", "chosen"):  # fmt: skip
        assert key in q, key
    assert q["circuit"]["depth"] > 0 and q["config"]["backend"] == "aer"
    # Exact is optimal, so QAOA can at best tie; the classical answer is used.
    assert rec["used"] == "classical"
    assert out.chosen == tuple(int(c) for c in rec["classical"]["chosen"])
    if q["objective"] < rec["classical"]["objective"] - 1e-9:
        assert rec["fallback"]["reason"] == "worse answer"
    else:
        assert rec["tie"] is True and rec["fallback"] is None


def test_qaoa_answer_is_used_when_it_beats_the_classical_one() -> None:
    p = SelectionProblem.build(
        [10, 11, 12, 13], [1.0, 0.9, 0.5, 0.1], [[0, .9, 0, 0], [.9, 0, 0, 0], [0, 0, 0, 0],
                                                  [0, 0, 0, 0]], 2, 1.0,
    )  # fmt: skip
    weak = classical.Solution("random", (2, 3), p.objective((2, 3)), 0.0, 1)
    out = _with_qaoa(p, weak, QaoaConfig(reps=1, shots=400), 0, {"classical": {}})
    assert out.record["used"] == "qaoa" and out.record["fallback"] is None
    assert out.objective > weak.objective
    assert out.chosen == (10, 12)


@pytest.mark.parametrize(
    ("config", "reason", "detail"),
    [
        (QaoaConfig(time_budget=0), "time budget exceeded", "budget is 0 s"),
        (QaoaConfig(time_budget=1e-4), "time budget exceeded", "exceeded"),
        (QaoaConfig(backend="ibm:nonexistent_device"), "quantum step failed", "unreachable"),
        (QaoaConfig(backend="pasqal"), "quantum step failed", "unknown backend"),
        (QaoaConfig(backend="fake:nonexistent"), "quantum step failed", "no fake backend"),
    ],
)
def test_fallback_to_the_classical_answer(config: QaoaConfig, reason: str, detail: str) -> None:
    p = instance(6, 9)
    out = select_clients(
        p.candidates, p.scores, p.redundancy, p.k, solver="qaoa", seed=0, qaoa=config
    )
    assert out.record["used"] == "classical"
    assert out.record["fallback"]["reason"] == reason
    assert detail in out.record["fallback"]["detail"]
    assert out.chosen == p.ids(classical.exact(p).positions)


def test_too_many_qubits_falls_back() -> None:
    p = instance(23, 1, k=3)
    out = select_clients(p.candidates, p.scores, p.redundancy, p.k, solver="qaoa", seed=0)
    assert out.record["fallback"]["reason"] == "quantum step failed"
    assert "statevector limit" in out.record["fallback"]["detail"]
    assert len(out.chosen) == 3


def test_noisy_fake_device_reports_sampled_figures() -> None:
    p = instance(4, 2, k=2)
    result = run_qaoa(
        p, QaoaConfig(reps=1, angles="transfer", shots=400, backend="fake:sherbrooke"), seed=1
    )
    assert result.probabilities_from.startswith("samples (aer noise model of fake_sherbrooke")
    assert 0 < result.p_feasible < 1  # noise leaks probability out of the weight-k subspace
    assert result.shots == 400


def test_an_unexpected_simulator_failure_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from fqai.quantum import select as module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Aer: simulation of 6 qubits failed")

    monkeypatch.setattr(module, "run_qaoa", broken)
    p = instance(6, 4)
    out = select_clients(p.candidates, p.scores, p.redundancy, p.k, solver="qaoa", seed=0)
    assert out.record["fallback"] == {
        "reason": "quantum step failed",
        "detail": "RuntimeError: Aer: simulation of 6 qubits failed",
    }
    assert out.chosen == p.ids(classical.exact(p).positions)
