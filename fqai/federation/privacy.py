"""Rényi-DP accounting of the (subsampled) Gaussian mechanism, without external dependencies.

Flower 1.41's DP strategy wrappers (``DifferentialPrivacyServerSideFixedClipping`` and the
client-side variant) accept an ``accountant`` implementing
``flwr.supercore.privacy_accounting.PrivacyAccountant``; Flower's own implementation
(``RdpAccountant``) needs Google's optional ``dp-accounting`` package, which is not installed
here. :class:`RdpGaussianAccountant` implements the same protocol in pure Python.

What is accounted
-----------------
* Mechanism: the Gaussian mechanism on a sum of per-client updates whose L2 norm is clipped to
  ``C``, with noise ``N(0, (z C)^2)`` added to the sum (Flower adds ``N(0, (z C / n)^2)`` to the
  *mean* of ``n`` updates, the same thing). ``z`` is the noise multiplier. Neighbouring
  datasets differ by adding or removing one client's whole data (client-level DP).
* RDP of one release at order ``a``:

  - no sampling (every client every round, Flower's ``NO_AMPLIFICATION``): ``a / (2 z^2)``;
  - Poisson sampling with rate ``q``, integer ``a >= 2`` (Mironov, Talwar, Zhang 2019, eq. for
    integer orders): ``log(sum_k C(a,k) (1-q)^(a-k) q^k exp((k^2 - k) / (2 z^2))) / (a - 1)``.
* Composition over rounds: RDP adds up order by order.
* Conversion to ``(eps, delta)``: ``eps = min_a [ rdp(a) + log((a-1)/a) - (log delta + log a)
  / (a-1) ]`` (Balle et al. 2020, Thm. 21; the conversion ``dp-accounting`` also uses), over a
  fixed grid of orders; the classic ``rdp + log(1/delta)/(a-1)`` is available for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from flwr.supercore.privacy_accounting import (
    GaussianPrivacyEvent,
    PrivacyConfig,
    PrivacySpent,
    SamplingMethod,
)

DEFAULT_ORDERS: tuple[float, ...] = (
    1.25,
    1.5,
    1.75,
    *[float(a) for a in range(2, 65)],
    80.0,
    96.0,
    128.0,
    192.0,
    256.0,
    512.0,
    1024.0,
)


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def gaussian_rdp(order: float, noise_multiplier: float, sampling_rate: float = 1.0) -> float:
    """RDP at ``order`` of one release of the (Poisson-subsampled) Gaussian mechanism.

    Sensitivity 1, noise standard deviation ``noise_multiplier``. With ``sampling_rate`` < 1 only
    integer orders are supported (``inf`` is returned for fractional ones, so a minimum over
    orders ignores them).
    """
    if noise_multiplier <= 0:
        raise ValueError("noise_multiplier must be positive")
    if not 0 <= sampling_rate <= 1:
        raise ValueError("sampling_rate must be in [0, 1]")
    if order <= 1:
        raise ValueError("RDP orders must be > 1")
    if sampling_rate == 0:
        return 0.0
    if sampling_rate == 1:
        return order / (2 * noise_multiplier**2)
    if order != int(order):
        return math.inf
    a = int(order)
    log_q, log_1q = math.log(sampling_rate), math.log1p(-sampling_rate)
    terms = [
        math.lgamma(a + 1)
        - math.lgamma(k + 1)
        - math.lgamma(a - k + 1)
        + (a - k) * log_1q
        + k * log_q
        + (k * k - k) / (2 * noise_multiplier**2)
        for k in range(a + 1)
    ]
    return max(_logsumexp(terms), 0.0) / (a - 1)


def epsilon_from_rdp(
    orders: Sequence[float], rdp: Sequence[float], delta: float, *, classic: bool = False
) -> tuple[float, float]:
    """Smallest ``eps`` (and the order achieving it) for which the RDP curve gives (eps, delta)-DP.

    ``classic=True`` uses ``eps = rdp + log(1/delta)/(a-1)`` (Mironov 2017, Prop. 3) instead of
    the tighter conversion of Balle et al. (2020).
    """
    if not 0 < delta < 1:
        raise ValueError("delta must be in (0, 1)")
    best, best_order = math.inf, math.nan
    for a, r in zip(orders, rdp, strict=True):
        if math.isinf(r):
            continue
        if classic:
            eps = r + math.log(1 / delta) / (a - 1)
        else:
            eps = r + math.log1p(-1 / a) - (math.log(delta) + math.log(a)) / (a - 1)
        if eps < best:
            best, best_order = eps, a
    return max(best, 0.0), best_order


def delta_from_rdp(orders: Sequence[float], rdp: Sequence[float], epsilon: float) -> float:
    """Smallest ``delta`` for which the RDP curve gives (epsilon, delta)-DP (same conversion)."""
    best = 1.0
    for a, r in zip(orders, rdp, strict=True):
        if math.isinf(r):
            continue
        log_delta = (a - 1) * (r - epsilon + math.log1p(-1 / a)) - math.log(a)
        best = min(best, math.exp(min(log_delta, 0.0)))
    return best


def epsilon_after(
    noise_multiplier: float,
    releases: int,
    delta: float,
    sampling_rate: float = 1.0,
    orders: Sequence[float] = DEFAULT_ORDERS,
) -> float:
    """``eps`` after ``releases`` identical releases (RDP composed linearly)."""
    rdp = [releases * gaussian_rdp(a, noise_multiplier, sampling_rate) for a in orders]
    return epsilon_from_rdp(orders, rdp, delta)[0]


def calibrate_noise(
    target_epsilon: float,
    releases: int,
    delta: float,
    sampling_rate: float = 1.0,
    tolerance: float = 1e-4,
) -> float:
    """Smallest noise multiplier (to ``tolerance``) whose ``eps`` after ``releases`` is at most
    ``target_epsilon``; the returned value always satisfies the target."""
    if target_epsilon <= 0 or releases <= 0:
        raise ValueError("target_epsilon and releases must be positive")
    low, high = 1e-3, 1.0
    while epsilon_after(high, releases, delta, sampling_rate) > target_epsilon:
        high *= 2
        if high > 1e6:
            raise ValueError("no noise multiplier reaches the target")
    while high - low > tolerance * high:
        mid = (low + high) / 2
        if epsilon_after(mid, releases, delta, sampling_rate) > target_epsilon:
            low = mid
        else:
            high = mid
    return high


@dataclass
class _Composition:
    noise_multiplier: float
    sample_size: int
    population_size: int
    count: int


class RdpGaussianAccountant:
    """Flower's ``PrivacyAccountant`` protocol, computed by this module (no ``dp-accounting``).

    ``config`` is a ``flwr.supercore.privacy_accounting.PrivacyConfig``. ``NO_AMPLIFICATION``
    accounts every release as an un-sampled Gaussian; ``POISSON`` uses the sampling rate
    ``sample_size / population_size`` of each event; ``WITHOUT_REPLACEMENT`` is not supported.
    """

    def __init__(self, config: PrivacyConfig, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        method = config.sampling_method
        if method not in (SamplingMethod.NO_AMPLIFICATION, SamplingMethod.POISSON):
            raise ValueError(f"unsupported sampling method {method!r}")
        self._config = config
        self._poisson = method is SamplingMethod.POISSON
        self._orders = tuple(float(a) for a in orders)
        self._rdp = [0.0] * len(self._orders)
        self._compositions: list[_Composition] = []

    @property
    def config(self) -> PrivacyConfig:
        return self._config

    @property
    def orders(self) -> tuple[float, ...]:
        return self._orders

    @property
    def num_releases(self) -> int:
        return sum(c.count for c in self._compositions)

    def _event_rdp(self, event: GaussianPrivacyEvent, count: int) -> list[float]:
        z = float(event.noise_multiplier)
        q = event.sample_size / event.population_size if self._poisson else 1.0
        return [count * gaussian_rdp(a, z, q) for a in self._orders]

    def compose(self, event: GaussianPrivacyEvent, count: int = 1) -> None:
        if count <= 0:
            raise ValueError("count must be positive")
        population = int(event.population_size)
        if population != self._config.population_size:
            raise ValueError("event population_size does not match the config")
        self._rdp = [r + e for r, e in zip(self._rdp, self._event_rdp(event, count), strict=True)]
        self._compositions.append(
            _Composition(
                float(event.noise_multiplier),
                int(event.sample_size),
                population,
                count,
            )
        )

    def get_epsilon(self, delta: float) -> float:
        if not self._compositions:
            return 0.0
        return epsilon_from_rdp(self._orders, self._rdp, delta)[0]

    def get_delta(self, epsilon: float) -> float:
        if not self._compositions:
            return 0.0
        return delta_from_rdp(self._orders, self._rdp, epsilon)

    def get_privacy_spent(self, delta: float | None = None) -> PrivacySpent:
        target = self._config.target_delta if delta is None else delta
        if self._compositions:
            eps, order = epsilon_from_rdp(self._orders, self._rdp, target)
        else:
            eps, order = 0.0, math.nan
        return PrivacySpent(
            epsilon=eps,
            delta=target,
            num_releases=self.num_releases,
            accounting_method="rdp (fqai.federation.privacy)",
            optimal_order=order,
        )

    def would_exceed(
        self, event: GaussianPrivacyEvent, max_epsilon: float | None = None, count: int = 1
    ) -> bool:
        limit = self._config.max_epsilon if max_epsilon is None else max_epsilon
        if limit is None:
            raise ValueError("no max_epsilon in the config or the call")
        projected = [r + e for r, e in zip(self._rdp, self._event_rdp(event, count), strict=True)]
        eps = epsilon_from_rdp(self._orders, projected, self._config.target_delta)[0]
        return eps > limit

    def state_dict(self) -> dict[str, object]:
        return {
            "orders": list(self._orders),
            "compositions": [vars(c).copy() for c in self._compositions],
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        raw_orders = state["orders"]
        raw_compositions = state["compositions"]
        if not isinstance(raw_orders, list) or not isinstance(raw_compositions, list):
            raise ValueError("malformed accountant state")
        orders = tuple(float(a) for a in raw_orders)
        self._orders = orders
        self._rdp = [0.0] * len(orders)
        self._compositions = []
        for item in raw_compositions:
            event = GaussianPrivacyEvent(
                noise_multiplier=float(item["noise_multiplier"]),
                sample_size=int(item["sample_size"]),
                population_size=int(item["population_size"]),
            )
            self.compose(event, int(item["count"]))
