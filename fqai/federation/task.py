"""The learning task: scikit-learn's bundled datasets, seeded partitions, small PyTorch models.

Everything here is a pure function of its arguments (and seeds), so every node derives the same
train/test split and its own partition without exchanging data:

* ``breast_cancer`` (30 features, 2 classes) -> :class:`CancerMLP`;
* ``digits`` (8x8 images, 10 classes) -> :class:`DigitsCNN`;
* with the model setting ``quantum[:key=value,...]`` (see :mod:`fqai.qml.spec`), either
  dataset -> a hybrid quantum classifier (:class:`fqai.qml.model.HybridClassifier`) on the
  features reduced by PCA, fitted on the training split, to one angle in [0, π] per qubit.

The model setting is a string so that it travels through Flower configs unchanged: ``""`` (or
``classical``) is the dataset's classical network.

Partitions are IID (a seeded permutation cut into near-equal parts) or non-IID by a Dirichlet
distribution over each class (``alpha`` small = skewed labels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from fqai.errors import FqaiError
from fqai.qml.spec import FAMILY as QUANTUM
from fqai.qml.spec import QuantumModelChoice, parse_quantum_model

DATASETS = ("breast_cancer", "digits")
MODEL_FAMILIES = ("classical", QUANTUM)
NUM_CLASSES = {"breast_cancer": 2, "digits": 10}
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


def normalise_model(model: str) -> str:
    """The canonical form of a model setting: ``""`` for the dataset's classical network, the
    full ``quantum:...`` text (every key) for a quantum model.

    Raises
    ------
    TaskError
        Not ``""``, ``classical`` or ``quantum[:...]``.
    QuantumModelError
        A quantum setting with an unknown key or an invalid value.
    """
    text = model.strip()
    if text in ("", "classical"):
        return ""
    if text.split(":", 1)[0] == QUANTUM:
        return parse_quantum_model(text).text()
    raise TaskError(
        f"unknown model {model!r}; use classical or quantum[:qubits=4,reps=2,"
        "entanglement=linear,encoding=angle,backend=aer,shots=0]"
    )


def quantum_choice(model: str) -> QuantumModelChoice | None:
    """The parsed quantum setting, or ``None`` for the classical network."""
    text = normalise_model(model)
    return parse_quantum_model(text) if text else None


def load_dataset(name: str, seed: int = 0, model: str = "") -> Dataset:
    """Load a bundled scikit-learn dataset and split it (same split for the same ``seed``).

    breast_cancer features are standardised with the training split's mean and deviation;
    digits pixels are scaled to [0, 1] and shaped ``(N, 1, 8, 8)``. For a quantum ``model`` the
    features are then reduced by PCA (fitted on the training split) to one angle in [0, π] per
    qubit (:mod:`fqai.qml.features`).
    """
    data = _load_base(name, seed)
    choice = quantum_choice(model)
    if choice is None:
        return data
    from fqai.qml.features import pca_angles

    x_train, x_test = pca_angles(data.x_train, data.x_test, choice.spec.qubits)
    return Dataset(name, x_train, data.y_train, x_test, data.y_test, data.num_classes)


def _load_base(name: str, seed: int) -> Dataset:
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


def build_model(dataset: str, seed: int = 0, model: str = "") -> nn.Module:
    """The model for ``dataset`` (and the ``model`` setting), initialised deterministically
    from ``seed``."""
    if dataset not in DATASETS:
        raise TaskError(f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}")
    choice = quantum_choice(model)
    torch.manual_seed(seed)
    if choice is not None:
        from fqai.qml.model import HybridClassifier

        return HybridClassifier(
            choice.spec, NUM_CLASSES[dataset], execution=choice.execution, seed=seed
        )
    if dataset == "breast_cancer":
        return CancerMLP()
    return DigitsCNN()


def model_name(dataset: str, model: str = "") -> str:
    """The manifest ``model.name`` of the task's model."""
    if quantum_choice(model) is not None:
        from fqai.qml.manifest import MODEL_NAME

        return MODEL_NAME
    return MODEL_NAMES[dataset]


def model_params(dataset: str, model: str = "", data_seed: int = 0) -> dict[str, Any]:
    """The manifest ``model.params``: ``{"dataset": …}`` for the classical networks; for a
    quantum model also its spec, circuit (OpenQASM 3), features and training backend
    (:func:`fqai.qml.manifest.quantum_params`)."""
    choice = quantum_choice(model)
    if choice is None:
        return {"dataset": dataset}
    from fqai.qml.circuit import build_circuit
    from fqai.qml.manifest import quantum_params

    return quantum_params(
        dataset,
        choice,
        build_circuit(choice.spec),
        num_classes=NUM_CLASSES[dataset],
        data_seed=data_seed,
    )


def manifest_model_setting(name: str, params: Mapping[str, Any] | None) -> str:
    """The model setting of a manifest's ``model`` section: ``""`` unless it describes a quantum
    model (whose circuit is then checked, see :func:`model_from_params`)."""
    if params and params.get("family") == QUANTUM:
        return model_from_params(name, params)[1]
    return ""


def model_from_params(name: str, params: Mapping[str, Any] | None) -> tuple[str, str, int]:
    """``(dataset, model setting, data seed)`` of a manifest's ``model`` section; a quantum
    model's circuit is parsed and checked against what the manifest declares.

    Raises
    ------
    TaskError
        A model fqai does not know how to build.
    CircuitMismatchError, QuantumModelError
        A quantum model whose circuit or parameters are not what the manifest declares.
    """
    from fqai.qml.manifest import MODEL_NAME, is_quantum, read_quantum_params

    if is_quantum(params) and name == MODEL_NAME:
        assert params is not None
        described = read_quantum_params(params)
        if described.dataset not in DATASETS:
            raise TaskError(f"unknown dataset {described.dataset!r} in the quantum model")
        return described.dataset, described.choice.text(), described.data_seed
    dataset = str(params.get("dataset", "")) if params else ""
    if dataset not in DATASETS or MODEL_NAMES[dataset] != name:
        raise TaskError(
            f"cannot build model {name!r}: known models are {sorted(MODEL_NAMES.values())} "
            f"with params.dataset set, and {MODEL_NAME} with params.family = quantum"
        )
    return dataset, "", 0


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
    for key, tensor in state.items():
        if tuple(np.shape(weights[key])) != tuple(tensor.shape):
            raise TaskError(
                f"weights do not fit the model: {key} has shape {tuple(np.shape(weights[key]))}, "
                f"the model needs {tuple(tensor.shape)}"
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
