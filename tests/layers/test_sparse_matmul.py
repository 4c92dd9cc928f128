"""csr_matmul: x Sᵀ from the nnz values in CSR, with gradients for x and the values equal to the dense product's."""

import pytest
import torch

from sparseinit.layers.sparse_matmul import CSRStructure, csr_matmul


def _case(n_out, n_in, density, seed):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_out, n_in, generator=g) < density
    return mask, CSRStructure.from_mask(mask)


@pytest.mark.parametrize(("n_out", "n_in", "batch"), [(5, 7, 3), (7, 5, 1), (64, 48, 9), (1, 1, 2)])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_matches_dense_product_and_gradients(n_out, n_in, batch, dtype, tol):
    mask, structure = _case(n_out, n_in, 0.4, n_out + n_in)
    values = torch.randn(structure.nnz, dtype=dtype, requires_grad=True)
    x = torch.randn(batch, n_in, dtype=dtype, requires_grad=True)
    dense = torch.zeros(n_out, n_in, dtype=dtype)
    dense[mask] = values.detach()
    dense.requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    y, y2 = csr_matmul(x, values, structure), x2 @ dense.T
    torch.testing.assert_close(y, y2, atol=tol, rtol=0)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    (y2 * g).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, atol=tol, rtol=0)
    torch.testing.assert_close(values.grad, dense.grad[mask], atol=tol, rtol=0)


def test_gradcheck_and_leading_axes():
    _, structure = _case(6, 9, 0.5, 0)
    values = torch.randn(structure.nnz, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 3, 9, dtype=torch.float64, requires_grad=True)
    assert csr_matmul(x, values, structure).shape == (2, 3, 6)
    assert torch.autograd.gradcheck(lambda v, t: csr_matmul(t, v, structure), (values, x))


def test_structure_round_trip_and_empty_support():
    mask, structure = _case(4, 6, 0.5, 1)
    values = torch.arange(structure.nnz, dtype=torch.float32) + 1
    expected = torch.zeros(4, 6)
    expected[mask] = values  # row-major order of the support, as the flat indices ascend
    assert torch.equal(structure.to_dense(values), expected)
    assert torch.equal(structure.matrix(values).to_dense(), structure.to_dense(values))
    assert torch.equal(structure.matrix_t(values).to_dense(), structure.to_dense(values).T)
    empty = CSRStructure.from_mask(torch.zeros(3, 4, dtype=torch.bool))
    assert torch.equal(csr_matmul(torch.ones(2, 4), torch.zeros(0), empty), torch.zeros(2, 3))


def test_bad_input():
    with pytest.raises(ValueError, match=r"support indices must lie in \[0, 12\)"):
        CSRStructure.from_flat(torch.tensor([0, 12]), 3, 4)
    with pytest.raises(ValueError, match="strictly ascending"):
        CSRStructure.from_flat(torch.tensor([3, 1]), 3, 4)
    with pytest.raises(ValueError, match="strictly ascending"):  # a repeated index would be summed twice
        CSRStructure.from_flat(torch.tensor([1, 3, 3]), 3, 4)
    _, structure = _case(3, 4, 0.5, 2)
    with pytest.raises(ValueError, match="x must have n_in = 4 entries"):
        csr_matmul(torch.ones(2, 5), torch.zeros(structure.nnz), structure)
    with pytest.raises(ValueError, match="values must have shape"):
        csr_matmul(torch.ones(2, 4), torch.zeros(structure.nnz + 1), structure)
