"""fast_dct: D x by one real FFT equals the dense truncated DCT matrix product, square and rectangular, and scipy."""

import numpy as np
import pytest
import scipy.fft
import torch

from sparseinit.layers.dct import dct_matrix
from sparseinit.layers.fast_dct import fast_dct

SHAPES = [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (5, 5), (4, 7), (7, 4), (9, 6), (6, 9), (8, 8), (17, 17),
          (16, 33), (33, 16), (100, 300), (301, 100), (128, 128)]


@pytest.mark.parametrize(("n_out", "n_in"), SHAPES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_equals_dense_matrix(n_out, n_in, dtype, tol):
    x = torch.randn(3, 2, n_in, dtype=dtype, generator=torch.Generator().manual_seed(n_in * 1000 + n_out))
    fast = fast_dct(x, n_out)
    assert fast.shape == (3, 2, n_out) and fast.dtype == dtype
    torch.testing.assert_close(fast, x @ dct_matrix(n_out, n_in, dtype).T, atol=tol, rtol=0)


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000, 4096])
def test_equals_scipy_dct(n):
    x = np.random.default_rng(n).standard_normal((4, n))
    expected = scipy.fft.dct(x, type=2, norm="ortho", axis=-1)
    got = fast_dct(torch.from_numpy(x), n).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12 * max(1.0, np.sqrt(n)), rtol=0)


@pytest.mark.parametrize(("n_out", "n_in"), [(6, 9), (9, 6), (8, 8)])
def test_rectangular_is_truncated_or_zero_padded_scipy_dct(n_out, n_in):
    x = np.random.default_rng(0).standard_normal((5, n_in))
    n = max(n_in, n_out)
    padded = np.pad(x, ((0, 0), (0, n - n_in)))
    expected = scipy.fft.dct(padded, norm="ortho", axis=-1)[:, :n_out]
    np.testing.assert_allclose(fast_dct(torch.from_numpy(x), n_out).numpy(), expected, atol=1e-13, rtol=0)


@pytest.mark.parametrize(("n_out", "n_in"), [(5, 8), (8, 5), (7, 7)])
def test_gradient_is_adjoint(n_out, n_in):
    x = torch.randn(3, n_in, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: fast_dct(t, n_out), (x,))
    g = torch.randn(3, n_out, dtype=torch.float64)
    (fast_dct(x, n_out) * g).sum().backward()
    torch.testing.assert_close(x.grad, g @ dct_matrix(n_out, n_in, torch.float64), atol=1e-12, rtol=0)


def test_bad_input():
    with pytest.raises(ValueError, match="float32 or float64"):
        fast_dct(torch.ones(3, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="n_out must be an integer >= 1"):
        fast_dct(torch.ones(3), 0)
    with pytest.raises(ValueError, match="at least one axis"):
        fast_dct(torch.tensor(1.0), 1)
    for dim in (2, 4, -3, 1.0, True):  # out of range would wrap round to another axis
        with pytest.raises(ValueError, match=r"^dim must be an integer in \[-2, 1\] for shape \(3, 4\), got"):
            fast_dct(torch.ones(3, 4), 4, dim=dim)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x = torch.randn(8, 300)
    torch.testing.assert_close(fast_dct(x.cuda(), 200).cpu(), fast_dct(x, 200), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("n_out", "n_in"), [(6, 9), (9, 6), (8, 8)])
def test_along_another_axis_and_permuted(n_out, n_in):
    from sparseinit.layers.fast_dct import permuted_dct

    x = torch.randn(2, n_in, 5, dtype=torch.float64)
    d = dct_matrix(n_out, n_in, torch.float64)
    torch.testing.assert_close(fast_dct(x, n_out, dim=1), torch.einsum("oi,bil->bol", d, x), atol=1e-12, rtol=0)
    order = torch.randperm(n_in, generator=torch.Generator().manual_seed(0))
    expected = torch.einsum("oi,bil->bol", d, x[:, order])
    torch.testing.assert_close(permuted_dct(x, n_out, 1, order), expected, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="order must be a permutation"):
        permuted_dct(x, n_out, 1, order[:-1])
