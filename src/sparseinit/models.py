"""The plain deep networks of [A] §4: no batch norm, no residuals, every hidden layer sparsified.

    DeepMLP   Flatten → [Linear → φ] × depth → Linear(width, num_classes)
    DeepCNN   [Conv2d(k, 'same' padding) → φ] × depth → global average pool → Linear(channels, num_classes)
              (readout="flatten": → Linear(channels·H·W, num_classes) on every position instead of the pool)

``logit_scale`` c ≠ 1 appends :class:`LogitScale` (logits × c, a softmax temperature 1/c, no parameters): with it a
q* = 1 network trains like one at q* = c² (:meth:`sparseinit.TrainConfig.at_unit_q_star`).

Both keep their layers in one ``nn.Sequential`` (``.layers``), so a layer's position tells what follows it.
``activation`` is an :class:`EdgeOfChaos` point — the network gets its activation module and is initialised there
by :func:`init_eoc_` — or any activation nn.Module (then torch's default initialisation is kept). ``depth`` counts
the activated layers.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._validate import check_int, check_range
from .eoc import EdgeOfChaos
from .initialisation import init_eoc_


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        check_int(name, value, 1)


class LogitScale(nn.Module):
    """Multiplies its input by a fixed factor: the read-out's logits z ↦ c·z. No parameters, no state."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = check_range("logit_scale", factor, 0.0, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


class _Deep(nn.Module):
    def __init__(self, layers: list[nn.Module], activation: EdgeOfChaos | nn.Module,
                 input_second_moment: float | None, logit_scale: float) -> None:
        super().__init__()
        if logit_scale != 1.0:
            layers.append(LogitScale(logit_scale))
        self.layers = nn.Sequential(*layers)
        self.eoc = activation if isinstance(activation, EdgeOfChaos) else None
        if self.eoc is not None:
            init_eoc_(self, self.eoc, input_second_moment=input_second_moment)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _module(activation: EdgeOfChaos | nn.Module) -> nn.Module:
    if isinstance(activation, EdgeOfChaos):
        return activation.module()
    if isinstance(activation, nn.Module):
        return copy.deepcopy(activation)
    raise ValueError(f"activation must be an EdgeOfChaos point or an nn.Module, got {type(activation).__name__}")


class DeepMLP(_Deep):
    """A depth-``depth`` MLP of width ``width``: Flatten → [Linear → φ] × depth → Linear."""

    def __init__(self, depth: int, width: int, activation: EdgeOfChaos | nn.Module, in_features: int = 784,
                 num_classes: int = 10, *, input_second_moment: float | None = 1.0, logit_scale: float = 1.0,
                 ) -> None:
        _check_positive(depth=depth, width=width, in_features=in_features, num_classes=num_classes)
        layers: list[nn.Module] = [nn.Flatten()]
        for index in range(depth):
            layers += [nn.Linear(in_features if index == 0 else width, width), _module(activation)]
        layers.append(nn.Linear(width, num_classes))
        super().__init__(layers, activation, input_second_moment, logit_scale)


READOUTS = ("pool", "flatten")


class DeepCNN(_Deep):
    """A depth-``depth`` plain CNN: [Conv2d(k, stride 1, 'same') → φ] × depth → global average pool → Linear.

    ``readout="flatten"`` replaces the pool by a Linear on every position of the last layer (``image_size`` ×
    ``image_size`` inputs): the pool keeps only what is common to all positions, which for crelu at high sparsity
    is almost none of the input signal (results/a_cnn/pooled_signal.txt).
    """

    def __init__(self, depth: int, channels: int, activation: EdgeOfChaos | nn.Module, in_channels: int = 1,
                 num_classes: int = 10, kernel_size: int = 3, *, input_second_moment: float | None = 1.0,
                 readout: str = "pool", image_size: int | None = None, logit_scale: float = 1.0) -> None:
        _check_positive(depth=depth, channels=channels, in_channels=in_channels, num_classes=num_classes,
                        kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (for 'same' padding), got {kernel_size}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        if readout == "flatten" and image_size is None:
            raise ValueError("readout 'flatten' needs image_size (the input's height = width)")
        layers: list[nn.Module] = []
        for index in range(depth):
            layers += [nn.Conv2d(in_channels if index == 0 else channels, channels, kernel_size,
                                 padding=kernel_size // 2), _module(activation)]
        if readout == "pool":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
        else:
            _check_positive(image_size=image_size)
            layers += [nn.Flatten(), nn.Linear(channels * image_size ** 2, num_classes)]
        super().__init__(layers, activation, input_second_moment, logit_scale)


def hidden_activations(model: nn.Module) -> list[nn.Module]:
    """The sparsifying activation modules of ``model``, input to output (whose zeros count as sparsity)."""
    from .activations import is_sparsifying

    return [mod for mod in model.modules() if is_sparsifying(mod)]
