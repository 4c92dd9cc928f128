"""Cross-cutting checks of the public facade: what ``sparseinit`` exports, and one-line errors for a non-model."""

import pytest
import torch

import sparseinit
from sparseinit.pruning import prunable_layers


def test_every_export_exists_and_is_documented():
    for name in sparseinit.__all__:
        value = getattr(sparseinit, name)
        assert getattr(value, "__doc__", None) or not callable(value), name


@pytest.mark.parametrize("call", [
    lambda m: sparseinit.sparsify(m, 0.5),
    lambda m: sparseinit.accelerate(m),
    lambda m: sparseinit.apply_masks_(m),
    lambda m: sparseinit.masked_layers(m),
    lambda m: sparseinit.density_report(m),
    lambda m: sparseinit.compact_dctps(m),
    lambda m: sparseinit.cost(m, torch.ones(1, 3)),
    lambda m: sparseinit.init_eoc_(m, sparseinit.edge_of_chaos("relu")),
    lambda m: sparseinit.input_selectivity(m, torch.ones(4, 3)),
    lambda m: prunable_layers(m),
])
@pytest.mark.parametrize("not_a_model", ["net", None, [torch.nn.Linear(3, 3)]])
def test_functions_of_a_model_refuse_anything_else_in_one_line(call, not_a_model):
    with pytest.raises(TypeError, match=r"^model must be a torch\.nn\.Module, got (str|NoneType|list)$"):
        call(not_a_model)


def test_a_mask_does_not_excuse_a_bad_density():
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\], got 1\.5"):
        sparseinit.SparseLinear(3, 4, mask=torch.ones(4, 3), density=1.5)
