"""The learning task: scikit-learn's bundled datasets, seeded partitions, small PyTorch models.

Everything here is a pure function of its arguments (and seeds), so every node derives the same
train/test split and its own partition without exchanging data:

* ``breast_cancer`` (30 features, 2 classes) -> :class:`CancerMLP`;
* ``digits`` (8x8 images, 10 classes) -> :class:`DigitsCNN`.

Partitions are IID (a seeded permutation cut into near-equal parts) or non-IID by a Dirichlet
distribution over each class (``alpha`` small = skewed labels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from fqai.errors import FqaiError

DATASETS = ("breast_cancer", "digits")
PARTITIONERS = ("iid", "dirichlet")
TEST_FRACTION = 0.2


class TaskError(FqaiError):
    """Unknown dataset or partitioner, or a partition that cannot be made."""


@dataclass(frozen=True)
class Dataset:
    """A dataset split into train and test, features as float32, labels as int64."""

    name: str
    x_train: NDArray[np.float32]
    y_train: NDArray[np.int64]
    x_test: NDArray[np.float32]
    y_test: NDArray[np.int64]
    num_classes: int


@dataclass(frozen=True)
class TrainResult:
    """What local training reports."""

    loss: float
    samples: int
    epochs: int


@dataclass(frozen=True)
class EvalResult:
    """Loss and accuracy on some examples."""

    loss: float
    accuracy: float
    samples: int


def _split(
    x: NDArray[np.float32], y: NDArray[np.int64], seed: int
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    """Stratified, seeded train/test split."""
    rng = np.random.default_rng(seed)
    test_idx: list[int] = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        test_idx.extend(idx[: max(1, round(len(idx) * TEST_FRACTION))].tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    return x[~mask], y[~mask], x[mask], y[mask]


def load_dataset(name: str, seed: int = 0) -> Dataset:
    """Load a bundled scikit-learn dataset and split it (same split for the same ``seed``).

    breast_cancer features are standardised with the training split's mean and deviation;
    digits pixels are scaled to [0, 1] and shaped ``(N, 1, 8, 8)``.
    """
    from sklearn import datasets

    if name == "breast_cancer":
        raw = datasets.load_breast_cancer()
        x = raw.data.astype(np.float32)
        y = raw.target.astype(np.int64)
        x_train, y_train, x_test, y_test = _split(x, y, seed)
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0) + 1e-6
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
        num_classes = 2
    elif name == "digits":
        raw = datasets.load_digits()
        x = (raw.images.astype(np.float32) / 16.0)[:, None, :, :]
        y = raw.target.astype(np.int64)
        x_train, y_train, x_test, y_test = _split(x, y, seed)
        num_classes = 10
    else:
        raise TaskError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")
    return Dataset(
        name=name,
        x_train=x_train.astype(np.float32),
        y_train=y_train,
        x_test=x_test.astype(np.float32),
        y_test=y_test,
        num_classes=num_classes,
    )


def iid_partition(num_samples: int, num_partitions: int, seed: int) -> list[NDArray[np.int64]]:
    """Indices of ``num_partitions`` disjoint, near-equal, shuffled parts of range(num_samples)."""
    if not 1 <= num_partitions <= num_samples:
        raise TaskError(f"cannot cut {num_samples} samples into {num_partitions} partitions")
    order = np.random.default_rng(seed).permutation(num_samples)
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, num_partitions)]


def dirichlet_partition(
    labels: NDArray[np.int64],
    num_partitions: int,
    alpha: float,
    seed: int,
    min_size: int = 2,
    max_tries: int = 100,
) -> list[NDArray[np.int64]]:
    """Non-IID parts: each class is spread over partitions by Dirichlet(``alpha``) proportions.

    Draws again (same generator, so still deterministic) until every part has ``min_size``
    samples; :class:`TaskError` if that does not happen in ``max_tries`` draws.
    """
    if alpha <= 0:
        raise TaskError(f"Dirichlet alpha must be positive, got {alpha}")
    if not 1 <= num_partitions <= len(labels) // max(min_size, 1):
        raise TaskError(
            f"cannot cut {len(labels)} samples into {num_partitions} partitions of "
            f"at least {min_size}"
        )
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        parts: list[list[int]] = [[] for _ in range(num_partitions)]
        for label in np.unique(labels):
            idx = np.flatnonzero(labels == label)
            rng.shuffle(idx)
            shares = rng.dirichlet(np.full(num_partitions, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for part, chunk in zip(parts, np.split(idx, cuts), strict=True):
                part.extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.array(p, dtype=np.int64)) for p in parts]
    raise TaskError(
        f"no Dirichlet(alpha={alpha}) partition into {num_partitions} parts of at least "
        f"{min_size} samples after {max_tries} draws"
    )


def partition_indices(
    dataset: Dataset,
    num_partitions: int,
    partitioner: str = "iid",
    seed: int = 0,
    alpha: float = 0.5,
) -> list[NDArray[np.int64]]:
    """Partition the training split of ``dataset`` with the named partitioner."""
    if partitioner == "iid":
        return iid_partition(len(dataset.y_train), num_partitions, seed)
    if partitioner == "dirichlet":
        return dirichlet_partition(dataset.y_train, num_partitions, alpha, seed)
    raise TaskError(f"unknown partitioner {partitioner!r}; choose one of {list(PARTITIONERS)}")


class CancerMLP(nn.Module):
    """Two hidden layers for the 30 breast-cancer features."""

    def __init__(self, in_features: int = 30, hidden: int = 32, num_classes: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 digit images."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODEL_NAMES = {"breast_cancer": "fqai.cancer-mlp", "digits": "fqai.digits-cnn"}


def build_model(dataset: str, seed: int = 0) -> nn.Module:
    """The model for ``dataset``, initialised deterministically from ``seed``."""
    torch.manual_seed(seed)
    if dataset == "breast_cancer":
        return CancerMLP()
    if dataset == "digits":
        return DigitsCNN()
    raise TaskError(f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}")


def get_weights(model: nn.Module) -> dict[str, NDArray[np.float32]]:
    """The model's state as numpy arrays, keyed by parameter name."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def set_weights(model: nn.Module, weights: Mapping[str, NDArray[np.floating]]) -> None:
    """Load ``weights`` (exactly the model's keys and shapes) into ``model``."""
    state = model.state_dict()
    if set(weights) != set(state):
        raise TaskError(
            f"weights do not fit the model: missing {sorted(set(state) - set(weights))[:3]}, "
            f"unexpected {sorted(set(weights) - set(state))[:3]}"
        )
    model.load_state_dict(
        {k: torch.as_tensor(np.asarray(weights[k]), dtype=state[k].dtype) for k in state}
    )


def train(
    model: nn.Module,
    x: NDArray[np.float32],
    y: NDArray[np.int64],
    *,
    epochs: int = 1,
    lr: float = 0.05,
    batch_size: int = 32,
    seed: int = 0,
    proximal_mu: float = 0.0,
) -> TrainResult:
    """Local SGD on ``(x, y)``; with ``proximal_mu`` > 0 adds FedProx's proximal term
    ``mu/2 * ||w - w_global||^2`` around the weights the model starts from."""
    if len(y) == 0:
        raise TaskError("cannot train on an empty partition")
    generator = torch.Generator().manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu > 0 else []
    model.train()
    total, count = 0.0, 0
    for _ in range(epochs):
        order = torch.randperm(len(ys), generator=generator)
        for start in range(0, len(ys), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = criterion(model(xs[batch]), ys[batch])
            if anchor:
                prox = sum(
                    ((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True)
                )
                loss = loss + proximal_mu / 2 * prox
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
    return TrainResult(loss=total / count, samples=len(ys), epochs=epochs)


@torch.no_grad()
def evaluate(model: nn.Module, x: NDArray[np.float32], y: NDArray[np.int64]) -> EvalResult:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``."""
    if len(y) == 0:
        raise TaskError("cannot evaluate on no examples")
    model.eval()
    logits = model(torch.from_numpy(x))
    labels = torch.from_numpy(y)
    loss = float(nn.functional.cross_entropy(logits, labels))
    accuracy = float((logits.argmax(dim=1) == labels).float().mean())
    return EvalResult(loss=loss, accuracy=accuracy, samples=len(y))
