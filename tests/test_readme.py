"""The README's Python walk-through runs as written and its model prints the sparsities its comment quotes."""

import re
from pathlib import Path

import pytest
import torch
from torch import nn

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def walkthrough() -> str:
    """The first python block under "## Python", up to the part that needs a trained run folder."""
    block = re.search(r"## Python\n\n```python\n(.*?)```", README, re.S)[1]
    return block.split("# (after the `sparseinit train")[0]


def test_the_walkthrough_runs_and_its_model_starts_as_quoted():
    head, tail = walkthrough().split("# the theory of any activation")
    namespace: dict = {}
    exec(compile(head, "README.md", "exec"), namespace)
    model = namespace["model"]
    quoted = re.search(r"torch\.randn\(256, 784\): mean hidden sparsity ([\d.]+), last layer ([\d.]+)", head)
    activations = [module for module in model if not isinstance(module, nn.Linear)]
    zeros, x = [], torch.randn(256, 784)  # first: the quoted figures are on the block's next draw
    with torch.no_grad():
        for module in model:
            x = module(x)
            if module in activations:
                zeros.append(float((x == 0).float().mean()))
    assert sum(zeros) / len(zeros) == pytest.approx(float(quoted[1]), abs=5e-4)
    assert zeros[-1] == pytest.approx(float(quoted[2]), abs=5e-4)
    deep_mlp = namespace["sparseinit"].DeepMLP(100, 300, namespace["point"])  # "what DeepMLP(100, 300, point) builds"
    assert len(activations) == 100 == sum(type(m) is type(activations[0]) for m in deep_mlp.layers)
    exec(compile("# " + tail, "README.md", "exec"), namespace)
    assert len(namespace["found"].fraction) == 100
