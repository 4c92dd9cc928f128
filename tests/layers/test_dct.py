"""D against the SPEC formula and scipy.fft.dct; partial isometry; the conv kernel's index map; the cache."""

import math

import numpy as np
import pytest
import scipy.fft
import torch

from sparseinit.layers.dct import cached_dct, dct_conv_kernel, dct_matrix


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


SHAPES = [(1, 1), (3, 3), (4, 9), (9, 4), (10, 784), (300, 100), (7, 1), (1, 7)]


def formula(n_out, n_in):
    n = max(n_in, n_out)
    d = np.empty((n_out, n_in))
    for k in range(n_out):
        c = math.sqrt((1 if k == 0 else 2) / n)
        for j in range(n_in):
            d[k, j] = c * math.cos(math.pi * k * (2 * j + 1) / (2 * n))
    return d


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_formula_and_scipy(shape):
    n_out, n_in = shape
    d = dct_matrix(n_out, n_in, dtype=torch.float64).numpy()
    np.testing.assert_allclose(d, formula(n_out, n_in), atol=1e-14)
    n = max(shape)
    ref = scipy.fft.dct(np.eye(n), norm="ortho", axis=0)[:n_out, :n_in]
    np.testing.assert_allclose(d, ref, atol=1e-13)


@pytest.mark.parametrize("shape", SHAPES)
def test_partial_isometry(shape):
    d = dct_matrix(*shape, dtype=torch.float64)
    np.testing.assert_allclose(torch.linalg.svdvals(d).numpy(), 1.0, atol=1e-12)
    gram = d @ d.T if shape[0] <= shape[1] else d.T @ d
    np.testing.assert_allclose(gram.numpy(), np.eye(min(shape)), atol=1e-12)


def test_dtype_and_device():
    assert dct_matrix(3, 5).dtype == torch.float32
    assert dct_matrix(3, 5, dtype=torch.float64).dtype == torch.float64
    np.testing.assert_allclose(dct_matrix(6, 5).numpy(), formula(6, 5), atol=1e-6)


def test_conv_kernel_index_map():
    c_out, c_in, kh, kw = 5, 3, 2, 4
    d = formula(c_out, c_in * kh * kw)
    kernel = dct_conv_kernel(c_out, c_in, (kh, kw), dtype=torch.float64).numpy()
    for o in range(c_out):
        for c in range(c_in):
            for h in range(kh):
                for w in range(kw):
                    assert kernel[o, c, h, w] == pytest.approx(d[o, (h * kw + w) * c_in + c], abs=1e-14)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match="n_out must be an integer >= 1"):
        dct_matrix(bad, 3)


def test_cache_shares_one_tensor_and_survives_inference_mode():
    with torch.inference_mode():
        first = cached_dct((11, 13), torch.float32, "cpu")
    assert cached_dct((11, 13), torch.float32, torch.device("cpu")) is first
    assert cached_dct((11, 13), torch.float64, "cpu") is not first
    alpha = torch.ones((), requires_grad=True)
    (alpha * first).sum().backward()  # a D built under inference mode can be saved for backward
    assert alpha.grad is not None


def test_numpy_sizes_and_bad_kernel_shapes():
    torch.testing.assert_close(dct_matrix(np.int64(5), np.int32(3)), dct_matrix(5, 3))
    torch.testing.assert_close(dct_conv_kernel(4, 2, 3), dct_conv_kernel(4, 2, (3, 3)))
    for bad in ((3,), (3, 3, 3), (3, 0)):
        with pytest.raises(ValueError, match="kernel_size must be"):
            dct_conv_kernel(4, 2, bad)
    with pytest.raises(ValueError, match="in_channels_per_group must be an integer >= 1"):
        dct_conv_kernel(4, 0, 3)
    with pytest.raises(ValueError, match=r"shape must be a linear weight's \(n_out, n_in\) or a convolution's"):
        cached_dct((4,), torch.float32, "cpu")  # was an IndexError
