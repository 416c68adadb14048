"""Unit tests of the learning task: datasets, partitions, training and evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from fqai.federation.task import (
    TaskError,
    build_model,
    dirichlet_partition,
    evaluate,
    get_weights,
    iid_partition,
    load_dataset,
    partition_indices,
    set_weights,
    train,
)


def test_datasets_split_deterministically() -> None:
    a = load_dataset("breast_cancer", seed=3)
    b = load_dataset("breast_cancer", seed=3)
    assert np.array_equal(a.y_test, b.y_test)
    assert a.x_train.shape[1] == 30 and a.num_classes == 2
    assert len(a.y_train) + len(a.y_test) == 569
    assert abs(float(a.x_train.mean())) < 1e-3  # standardised on the train split
    digits = load_dataset("digits")
    assert digits.x_train.shape[1:] == (1, 8, 8) and digits.num_classes == 10
    assert set(np.unique(digits.y_test)) == set(range(10))  # stratified
    with pytest.raises(TaskError, match="unknown dataset"):
        load_dataset("mnist")


def test_iid_partition_is_disjoint_cover_and_seeded() -> None:
    parts = iid_partition(101, 4, seed=1)
    assert sorted(len(p) for p in parts) == [25, 25, 25, 26]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(101))
    assert all(np.array_equal(x, y) for x, y in zip(parts, iid_partition(101, 4, 1), strict=True))
    assert not np.array_equal(parts[0], iid_partition(101, 4, seed=2)[0])
    with pytest.raises(TaskError):
        iid_partition(3, 4, seed=0)


def test_dirichlet_partition_skews_labels() -> None:
    labels = np.repeat(np.arange(10), 50)
    parts = dirichlet_partition(labels, 5, alpha=0.1, seed=0)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(500))
    assert min(len(p) for p in parts) >= 2
    # With a small alpha most partitions are dominated by few labels.
    dominant = [np.bincount(labels[p], minlength=10).max() / len(p) for p in parts]
    assert np.mean(dominant) > 0.3
    again = dirichlet_partition(labels, 5, alpha=0.1, seed=0)
    assert all(np.array_equal(x, y) for x, y in zip(parts, again, strict=True))
    with pytest.raises(TaskError, match="alpha"):
        dirichlet_partition(labels, 5, alpha=0, seed=0)
    dataset = load_dataset("digits")
    assert len(partition_indices(dataset, 3, "dirichlet", seed=1, alpha=1.0)) == 3
    with pytest.raises(TaskError, match="partitioner"):
        partition_indices(dataset, 3, "shards")


@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
def test_training_improves_accuracy(name: str) -> None:
    dataset = load_dataset(name)
    model = build_model(name, seed=0)
    before = evaluate(model, dataset.x_test, dataset.y_test)
    result = train(model, dataset.x_train, dataset.y_train, epochs=3, lr=0.05, seed=0)
    after = evaluate(model, dataset.x_test, dataset.y_test)
    assert result.samples == len(dataset.y_train)
    assert after.accuracy > max(before.accuracy, 0.8)
    assert after.loss < before.loss


def test_weights_round_trip_and_fedprox_term() -> None:
    dataset = load_dataset("breast_cancer")
    model = build_model("breast_cancer", seed=0)
    weights = get_weights(model)
    clone = build_model("breast_cancer", seed=99)
    set_weights(clone, weights)
    assert all(np.array_equal(weights[k], v) for k, v in get_weights(clone).items())
    with pytest.raises(TaskError, match="do not fit"):
        set_weights(clone, {"x": np.zeros(1)})
    plain = build_model("breast_cancer", seed=0)
    prox = build_model("breast_cancer", seed=0)
    train(plain, dataset.x_train, dataset.y_train, epochs=2, seed=0)
    train(prox, dataset.x_train, dataset.y_train, epochs=2, seed=0, proximal_mu=10.0)

    def drift(m: object) -> float:
        return sum(float(np.sum((get_weights(m)[k] - weights[k]) ** 2)) for k in weights)

    assert drift(prox) < drift(plain)  # the proximal term keeps weights near the start
