"""Record-level differential privacy at the node: DP-SGD with Opacus, accounted over the run.

Why at the node and not at the coordinator: every update a node publishes is pinned on IPFS for
anyone to fetch, so Gaussian noise added by the coordinator after aggregation would protect
nothing against a reader of the updates. DP-SGD (each example's gradient clipped to
``max_grad_norm``, Gaussian noise of standard deviation ``noise_multiplier * max_grad_norm``
added to every batch sum, batches drawn by Poisson sampling with rate ``batch_size / n``) makes
each published update (epsilon, delta)-DP with respect to the records of the node's own data.
Round models and the minted model are computed from the updates alone, so they keep the
guarantee (post-processing). A record lives on one node, so the guarantee the model gives any
record is the largest epsilon any contributing node spent (parallel composition).

Accounting is Opacus's RDP accountant over every DP-SGD step the node took in the federation,
all rounds together. Its history is kept in the node's work directory (``dp-f<id>.json``), so a
restarted node keeps counting. The noise multiplier is fixed at the node's first round: the
smallest one for which the planned run (``planned_rounds`` x local epochs) spends at most
``target_epsilon``. A node asked to train past its budget refuses (:class:`PrivacyBudgetError`).

The update manifest reports ``dp_epsilon`` (cumulative, after this round), ``dp_delta``,
``dp_noise_multiplier``, ``dp_max_grad_norm``, ``dp_sample_rate`` and ``dp_steps``; the
coordinator recomputes epsilon from the last four with its own accountant
(:mod:`fqai.federation.privacy`) before accepting the update.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from opacus import PrivacyEngine
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fqai.federation import privacy
from fqai.federation.errors import FederationError, UpdateRejectedError
from fqai.federation.task import TrainResult
from fqai.fsutil import write_bytes_atomic

log = logging.getLogger(__name__)

METRIC_KEYS = (
    "dp_epsilon",
    "dp_delta",
    "dp_noise_multiplier",
    "dp_max_grad_norm",
    "dp_sample_rate",
    "dp_steps",
)

# Opacus calibrates the noise to within 1 % of the target epsilon.
EPSILON_SLACK = 0.01


class PrivacyBudgetError(FederationError):
    """Training once more would spend more epsilon than the federation's budget."""


@dataclass(frozen=True)
class DpSettings:
    """The federation's DP-SGD settings, sent to nodes in every train message."""

    target_epsilon: float
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    planned_rounds: int = 1

    def __post_init__(self) -> None:
        if not self.target_epsilon > 0:
            raise FederationError(f"dp target epsilon must be positive: {self.target_epsilon}")
        if not 0 < self.delta < 1:
            raise FederationError(f"dp delta must be in (0, 1): {self.delta}")
        if not self.max_grad_norm > 0:
            raise FederationError(f"dp max grad norm must be positive: {self.max_grad_norm}")
        if self.planned_rounds < 1:
            raise FederationError(f"dp planned rounds must be >= 1: {self.planned_rounds}")

    def to_config(self) -> dict[str, float | int]:
        """The ``fqai-dp-*`` entries of a train message."""
        return {
            "fqai-dp-epsilon": self.target_epsilon,
            "fqai-dp-delta": self.delta,
            "fqai-dp-max-grad-norm": self.max_grad_norm,
            "fqai-dp-rounds": self.planned_rounds,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DpSettings | None:
        """Settings from a train message's config; ``None`` when DP is off (no epsilon, or 0)."""
        epsilon = float(config.get("fqai-dp-epsilon", 0) or 0)
        if epsilon <= 0:
            return None
        return cls(
            target_epsilon=epsilon,
            delta=float(config.get("fqai-dp-delta", 1e-5)),
            max_grad_norm=float(config.get("fqai-dp-max-grad-norm", 1.0)),
            planned_rounds=int(config.get("fqai-dp-rounds", 1)),
        )


@dataclass(frozen=True)
class DpReport:
    """A node's privacy spend after a round, as written into its update manifest."""

    epsilon: float
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    steps: int

    def metrics(self) -> dict[str, float | int]:
        return dict(zip(METRIC_KEYS, asdict(self).values(), strict=True))

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> DpReport | None:
        """The report in a manifest's metrics; ``None`` if it has none.

        Raises
        ------
        FederationError
            Some but not all ``dp_*`` keys are present, or a value has the wrong type.
        """
        present = [k for k in METRIC_KEYS if k in metrics]
        if not present:
            return None
        if len(present) != len(METRIC_KEYS):
            missing = sorted(set(METRIC_KEYS) - set(present))
            raise FederationError(f"incomplete DP report, missing {missing}")
        values = [metrics[k] for k in METRIC_KEYS]
        if type(values[-1]) is not int or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            shown = dict(zip(METRIC_KEYS, values, strict=True))
            raise FederationError(f"malformed DP report: {shown}")
        epsilon, delta, noise, norm, rate = (float(v) for v in values[:-1])
        return cls(epsilon, delta, noise, norm, rate, steps=int(values[-1]))

    def recomputed_epsilon(self) -> float:
        """Epsilon of ``steps`` Poisson-subsampled Gaussian steps at this noise and sample rate,
        recomputed with Opacus's RDP accountant (what a verifier checks the report against)."""
        accountant = RDPAccountant()
        accountant.history = [(self.noise_multiplier, self.sample_rate, self.steps)]
        return float(accountant.get_epsilon(self.delta))

    def bound_epsilon(self) -> float:
        """The same spend by fqai's own RDP accountant (integer orders only, so never below
        Opacus's figure): an independent upper bound."""
        return privacy.epsilon_after(
            self.noise_multiplier, self.steps, self.delta, sampling_rate=self.sample_rate
        )


@dataclass
class PrivacyLedger:
    """A node's DP-SGD history in one federation, kept on disk between rounds and restarts."""

    path: Path
    noise_multiplier: float | None = None
    sample_rate: float | None = None
    accountant_state: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: Path) -> PrivacyLedger:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(
            path,
            noise_multiplier=float(data["noise_multiplier"]),
            sample_rate=float(data["sample_rate"]),
            accountant_state={
                "history": [tuple(h) for h in data["history"]],
            },
        )

    def save(self) -> None:
        history = (self.accountant_state or {}).get("history", [])
        data = {
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "history": [list(h) for h in history],
        }
        write_bytes_atomic(self.path, (json.dumps(data) + "\n").encode(), 0o600)

    @property
    def steps(self) -> int:
        return sum(int(h[2]) for h in (self.accountant_state or {}).get("history", []))


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Steps Opacus's Poisson loader takes per epoch: as many as the plain loader's batches
    (its sampling rate is the inverse of this, not ``batch_size / samples``)."""
    return max(1, -(-samples // batch_size))


def plan_noise(settings: DpSettings, samples: int, batch_size: int, epochs: int) -> float:
    """Smallest noise multiplier spending at most ``target_epsilon`` over the planned run."""
    sample_rate = 1 / steps_per_epoch(samples, batch_size)
    steps = settings.planned_rounds * epochs * steps_per_epoch(samples, batch_size)
    return float(
        get_noise_multiplier(
            target_epsilon=settings.target_epsilon,
            target_delta=settings.delta,
            sample_rate=sample_rate,
            steps=steps,
            accountant="rdp",
        )
    )


def train_private(
    model: nn.Module,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    settings: DpSettings,
    ledger: PrivacyLedger,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> tuple[TrainResult, DpReport]:
    """DP-SGD on ``(x, y)`` (in place on ``model``); returns the result and the privacy spend.

    Raises
    ------
    PrivacyBudgetError
        The ledger's history plus this round's steps would exceed ``target_epsilon``.
    """
    samples = len(y)
    if samples == 0:
        raise FederationError("cannot train on an empty partition")
    if ledger.noise_multiplier is None:
        ledger.noise_multiplier = plan_noise(settings, samples, batch_size, epochs)
        ledger.sample_rate = 1 / steps_per_epoch(samples, batch_size)
        log.info(
            "DP-SGD: noise multiplier %.4f for epsilon <= %g over %d round(s) of %d epoch(s)",
            ledger.noise_multiplier,
            settings.target_epsilon,
            settings.planned_rounds,
            epochs,
        )
    sigma, rate = ledger.noise_multiplier, float(ledger.sample_rate or 0)
    planned = ledger.steps + epochs * steps_per_epoch(samples, batch_size)
    projected = DpReport(0.0, settings.delta, sigma, settings.max_grad_norm, rate, planned)
    if projected.recomputed_epsilon() > settings.target_epsilon * (1 + EPSILON_SLACK):
        raise PrivacyBudgetError(
            f"training would bring epsilon to {projected.recomputed_epsilon():.3f} (> budget "
            f"{settings.target_epsilon}) after {ledger.steps} DP-SGD steps already taken"
        )
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
    )
    model.train()
    engine = PrivacyEngine(accountant="rdp")
    if ledger.accountant_state is not None:
        engine.accountant.history = list(ledger.accountant_state["history"])
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    private_model, private_optimiser, private_loader = engine.make_private(
        module=model,
        optimizer=optimiser,
        data_loader=loader,
        noise_multiplier=sigma,
        max_grad_norm=settings.max_grad_norm,
        poisson_sampling=True,
        noise_generator=torch.Generator().manual_seed(seed + 1),
    )
    criterion = nn.CrossEntropyLoss()
    private_model.train()
    total, count = 0.0, 0
    for _ in range(epochs):
        for xb, yb in private_loader:
            private_optimiser.zero_grad()
            if len(yb) == 0:
                private_optimiser.step()  # an empty Poisson batch is still a (noise-only) step
                continue
            loss = criterion(private_model(xb), yb)
            loss.backward()
            private_optimiser.step()
            total += float(loss.detach()) * len(yb)
            count += len(yb)
    private_model.remove_hooks()
    ledger.accountant_state = {"history": [tuple(h) for h in engine.accountant.history]}
    ledger.save()
    epsilon = float(engine.accountant.get_epsilon(settings.delta))
    report = DpReport(
        epsilon=epsilon,
        delta=settings.delta,
        noise_multiplier=sigma,
        max_grad_norm=settings.max_grad_norm,
        sample_rate=rate,
        steps=ledger.steps,
    )
    mean_loss = total / count if count else 0.0
    return TrainResult(loss=mean_loss, samples=samples, epochs=epochs), report


def check_update_privacy(metrics: Mapping[str, Any], settings: DpSettings) -> DpReport:
    """The coordinator's check of an update's DP report against the federation's settings.

    Raises
    ------
    UpdateRejectedError
        Reason ``privacy``: no report, a malformed one, other settings than the federation's,
        an epsilon that its own noise, sample rate and step count do not give, or one over the
        budget.
    """
    try:
        report = DpReport.from_metrics(metrics)
    except FederationError as exc:
        raise UpdateRejectedError("privacy", str(exc)) from exc
    if report is None:
        raise UpdateRejectedError("privacy", "the federation requires DP-SGD; no DP report")
    if report.delta != settings.delta or report.max_grad_norm != settings.max_grad_norm:
        raise UpdateRejectedError(
            "privacy",
            f"trained with delta {report.delta} and clipping norm {report.max_grad_norm}, the "
            f"federation's are {settings.delta} and {settings.max_grad_norm}",
        )
    if not (report.noise_multiplier > 0 and 0 < report.sample_rate <= 1 and report.steps > 0):
        raise UpdateRejectedError("privacy", f"impossible DP parameters: {report}")
    recomputed = report.recomputed_epsilon()
    if not math.isclose(report.epsilon, recomputed, rel_tol=1e-6, abs_tol=1e-9):
        raise UpdateRejectedError(
            "privacy",
            f"reported epsilon {report.epsilon:.6f}, but {report.steps} steps at noise "
            f"{report.noise_multiplier} and sample rate {report.sample_rate} give {recomputed:.6f}",
        )
    if recomputed > settings.target_epsilon * (1 + EPSILON_SLACK):
        raise UpdateRejectedError(
            "privacy", f"epsilon {recomputed:.4f} exceeds the budget {settings.target_epsilon}"
        )
    return report
