"""Unit tests of fqai.federation.privacy (RDP accounting of the Gaussian mechanism)."""

from __future__ import annotations

import math

import pytest
from flwr.supercore.privacy_accounting import (
    GaussianPrivacyEvent,
    NeighboringRelation,
    PrivacyConfig,
    SamplingMethod,
)

from fqai.federation.privacy import (
    DEFAULT_ORDERS,
    RdpGaussianAccountant,
    calibrate_noise,
    delta_from_rdp,
    epsilon_after,
    epsilon_from_rdp,
    gaussian_rdp,
)


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _exact_gaussian_delta(sigma: float, eps: float) -> float:
    """Exact delta(eps) of one Gaussian mechanism, sensitivity 1 (Balle & Wang 2018, Thm. 8)."""
    return _phi(1 / (2 * sigma) - eps * sigma) - math.exp(eps) * _phi(
        -1 / (2 * sigma) - eps * sigma
    )


def test_unsampled_gaussian_rdp_is_order_over_two_sigma_squared() -> None:
    for order in (1.5, 2.0, 7.0, 64.0):
        for sigma in (0.5, 1.0, 4.0):
            assert gaussian_rdp(order, sigma) == pytest.approx(order / (2 * sigma**2))


def test_sampled_gaussian_rdp_closed_form_at_order_two() -> None:
    # Order 2: sum_k C(2,k)(1-q)^(2-k) q^k e^{(k^2-k)/(2 s^2)} = 1 + q^2 (e^{1/s^2} - 1).
    for q, sigma in ((0.01, 1.0), (0.1, 0.8), (0.5, 2.0)):
        expected = math.log1p(q * q * math.expm1(1 / sigma**2))
        assert gaussian_rdp(2, sigma, q) == pytest.approx(expected, rel=1e-12)


def test_sampled_gaussian_rdp_limits() -> None:
    assert gaussian_rdp(8, 1.0, 0.0) == 0.0
    # q -> 1 approaches the unsampled value; fractional orders are not supported when q < 1.
    assert gaussian_rdp(8, 1.3, 1 - 1e-12) == pytest.approx(8 / (2 * 1.3**2), rel=1e-6)
    assert math.isinf(gaussian_rdp(2.5, 1.0, 0.5))
    # Amplification: sampling never costs more than not sampling.
    assert gaussian_rdp(16, 1.0, 0.2) < gaussian_rdp(16, 1.0)


def test_conversion_by_hand_for_one_release() -> None:
    sigma, delta = 1.0, 1e-5
    orders = [2.0, 10.0, 30.0]
    rdp = [a / (2 * sigma**2) for a in orders]
    by_hand = [
        a / 2 + math.log((a - 1) / a) - (math.log(delta) + math.log(a)) / (a - 1) for a in orders
    ]
    eps, order = epsilon_from_rdp(orders, rdp, delta)
    assert eps == pytest.approx(min(by_hand))
    assert order == orders[by_hand.index(min(by_hand))]
    classic = [a / 2 + math.log(1 / delta) / (a - 1) for a in orders]
    assert epsilon_from_rdp(orders, rdp, delta, classic=True)[0] == pytest.approx(min(classic))
    # delta_from_rdp inverts epsilon_from_rdp (on the order that attains the minimum).
    assert delta_from_rdp(orders, rdp, eps) == pytest.approx(delta, rel=1e-9)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 5.0])
def test_rdp_epsilon_upper_bounds_the_exact_gaussian_epsilon(sigma: float) -> None:
    delta = 1e-5
    eps = epsilon_after(sigma, 1, delta)
    # Sound: the exact mechanism at this eps needs no more delta than claimed ...
    assert _exact_gaussian_delta(sigma, eps) <= delta
    # ... and not wildly loose: at 80 % of that eps the exact delta is already above it.
    assert _exact_gaussian_delta(sigma, 0.8 * eps) > delta


def test_dp_sgd_mnist_reference_value() -> None:
    # TensorFlow Privacy's MNIST tutorial: q = 256/60000, noise 1.1, 60 epochs, delta 1e-5
    # -> eps = 3.01 with the classic conversion over integer orders.
    steps = 60 * 60000 // 256
    orders = DEFAULT_ORDERS
    rdp = [steps * gaussian_rdp(a, 1.1, 256 / 60000) for a in orders]
    assert epsilon_from_rdp(orders, rdp, 1e-5, classic=True)[0] == pytest.approx(3.01, abs=0.01)
    # The tighter conversion is lower.
    assert epsilon_from_rdp(orders, rdp, 1e-5)[0] < 3.0


def test_composition_is_linear_and_calibration_hits_the_target() -> None:
    assert epsilon_after(3.0, 4, 1e-5) == pytest.approx(epsilon_after(1.5, 1, 1e-5), rel=1e-9)
    for releases in (1, 10, 40):
        sigma = calibrate_noise(1.0, releases, 1e-5)
        assert epsilon_after(sigma, releases, 1e-5) <= 1.0
        assert epsilon_after(sigma * 0.99, releases, 1e-5) > 1.0


def _config(method: SamplingMethod, population: int = 10) -> PrivacyConfig:
    return PrivacyConfig(
        target_delta=1e-5,
        population_size=population,
        neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
        sampling_method=method,
        max_epsilon=2.0,
    )


def test_accountant_implements_flowers_protocol() -> None:
    acc = RdpGaussianAccountant(_config(SamplingMethod.NO_AMPLIFICATION))
    assert acc.get_epsilon(1e-5) == 0.0
    event = GaussianPrivacyEvent(noise_multiplier=8.0, sample_size=10, population_size=10)
    acc.compose(event, count=3)
    acc.compose(event)
    spent = acc.get_privacy_spent()
    assert spent.num_releases == 4
    assert spent.epsilon == pytest.approx(epsilon_after(8.0, 4, 1e-5))
    assert spent.delta == 1e-5
    assert acc.get_delta(spent.epsilon) == pytest.approx(1e-5, rel=1e-6)
    assert not acc.would_exceed(event)
    assert acc.would_exceed(event, count=100)
    restored = RdpGaussianAccountant(_config(SamplingMethod.NO_AMPLIFICATION))
    restored.load_state_dict(acc.state_dict())
    assert restored.get_epsilon(1e-5) == pytest.approx(spent.epsilon)
    with pytest.raises(ValueError):
        acc.compose(GaussianPrivacyEvent(noise_multiplier=1.0, sample_size=1, population_size=5))


def test_poisson_accountant_uses_the_sampling_rate() -> None:
    acc = RdpGaussianAccountant(_config(SamplingMethod.POISSON, population=100))
    acc.compose(GaussianPrivacyEvent(noise_multiplier=1.0, sample_size=10, population_size=100), 5)
    assert acc.get_epsilon(1e-5) == pytest.approx(epsilon_after(1.0, 5, 1e-5, 0.1))
    assert acc.get_epsilon(1e-5) < epsilon_after(1.0, 5, 1e-5)


def test_flower_dp_wrapper_accepts_the_accountant() -> None:
    from flwr.serverapp.strategy import DifferentialPrivacyServerSideFixedClipping, FedAvg

    acc = RdpGaussianAccountant(_config(SamplingMethod.NO_AMPLIFICATION))
    strategy = DifferentialPrivacyServerSideFixedClipping(
        FedAvg(), noise_multiplier=5.0, clipping_norm=1.0, num_sampled_clients=10, accountant=acc
    )
    assert strategy.privacy_spent() is not None
