"""The networks of [C]'s experiments (§5), dense, ready for :func:`sparseinit.sparsify`.

    LeNet300100   Flatten → 784-300-100-C MLP with ReLU (LeCun et al. 1998)
    LeNet5        conv5(6) → BN → ReLU → avgpool2 → conv5(16) → BN → ReLU → avgpool2 → conv5(120) → BN → ReLU →
                  fc 84 → fc C
                  ([C]'s variant: a third 5×5 convolution in place of the first fully connected layer; inputs
                  smaller than 32×32 are zero-padded to 32 by the first convolution — by 2 for 28×28 MNIST, as in
                  LeNet-5 — so its output is 1×1×120)
    VGG           VGG-11/16/19, CIFAR style (Simonyan & Zisserman 2015; Liu et al. 2019): 3×3 conv → BN → ReLU
                  blocks with 4 max-pools, global average pool, one linear classifier
    ResNet20      CIFAR ResNet of He et al. 2016 §4.2: 3 stages of 3 basic blocks, 16/32/64 channels, shortcuts
                  that change shape are parameter-free (option A: stride-2 subsampling + zero channels)
    ResNet18      CIFAR ResNet-18: 3×3 stem, 4 stages of 2 basic blocks, 64/128/256/512 channels, 1×1 conv + BN
                  projection shortcuts

Every model takes ``in_channels`` and ``num_classes`` (and ``image_size`` for those whose flatten size depends
on it); VGG and the ResNets take a width multiplier ``width`` (channels round(c · width), at least 1). Weights
start Kaiming-normal (fan-in, ReLU gain), biases at 0, BatchNorm at (1, 0); after ``sparsify(offset=None)`` that
is Kaiming on the support. Each model has ``input_shape`` = (C, H, W) (SynFlow needs it; H = W = image_size,
32 where no size is given).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_int

VGG_CONFIGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512],
}


def _check(**values: int) -> None:
    for name, value in values.items():
        check_int(name, value, 1)


def _channels(base: int, width: float) -> int:
    return max(1, round(base * width))


def _check_width(width: float) -> float:
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")
    return float(width)


@torch.no_grad()
def _kaiming_init_(model: nn.Module) -> nn.Module:
    """Kaiming-normal (fan-in, ReLU) conv/linear weights, zero biases, BatchNorm weight 1 and bias 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


class LeNet300100(nn.Module):
    """Flatten → Linear(C·H·W, 300) → ReLU → Linear(300, 100) → ReLU → Linear(100, num_classes)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        _check(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
        self.input_shape = (in_channels, image_size, image_size)
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size**2, 300), nn.ReLU(),
                                    nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, num_classes))
        _kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LeNet5(nn.Module):
    """LeNet-5 as in [C]: three 5×5 convolutions (6, 16, 120), each without bias and followed by BatchNorm and ReLU,
    2×2 average pools after the first two, then 84 → classes.

    Convolutions without bias followed by BatchNorm are [C]'s convention for its reference models (SPEC §4); it
    matters for DCTpS, whose fixed offset's first row is the patch average: on non-negative inputs (pixels,
    ReLU outputs) it amplifies the mean by up to √(patch size) per layer, which BatchNorm removes.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        _check(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
        pad = max(0, (32 - image_size + 1) // 2)
        size = image_size + 2 * pad
        size = ((size - 4) // 2 - 4) // 2 - 4  # conv5, pool2, conv5, pool2, conv5: 1 for inputs up to 32
        self.input_shape = (in_channels, image_size, image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5, bias=False), nn.BatchNorm2d(120), nn.ReLU())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120 * size * size, 84), nn.ReLU(),
                                        nn.Linear(84, num_classes))
        _kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class VGG(nn.Module):
    """VGG-``depth`` (11, 16 or 19), CIFAR style: [conv3×3 → BN → ReLU]ₙ with max-pools, global avg pool, linear."""

    def __init__(self, depth: int = 16, in_channels: int = 3, num_classes: int = 10, width: float = 1.0,
                 image_size: int = 32) -> None:
        super().__init__()
        if depth not in VGG_CONFIGS:
            raise ValueError(f"unknown VGG depth {depth!r}; choose one of {', '.join(map(str, VGG_CONFIGS))}")
        _check(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
        pools = VGG_CONFIGS[depth].count("M")
        if image_size < 2**pools:
            raise ValueError(f"vgg{depth} needs images of at least {2**pools}x{2**pools} ({pools} max-pools), "
                             f"got {image_size}x{image_size}")
        width = _check_width(width)
        self.input_shape = (in_channels, image_size, image_size)
        layers: list[nn.Module] = []
        channels = in_channels
        for item in VGG_CONFIGS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                out = _channels(int(item), width)
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
                channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        _kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


class BasicBlock(nn.Module):
    """x → conv3×3 → BN → ReLU → conv3×3 → BN, + shortcut(x), → ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "B") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                self.shortcut = _PadShortcut(planes - in_planes, stride)
            else:
                self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class _PadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and append ``extra`` zero channels (no parameters)."""

    def __init__(self, extra: int, stride: int) -> None:
        super().__init__()
        self.extra, self.stride = extra, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class _CifarResNet(nn.Module):
    def __init__(self, stages: list[int], planes: list[int], shortcut: str, in_channels: int, num_classes: int,
                 width: float, image_size: int) -> None:
        super().__init__()
        _check(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
        width = _check_width(width)
        self.input_shape = (in_channels, image_size, image_size)
        widths = [_channels(p, width) for p in planes]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()  # modules, not F.relu: the trainer's sparsity meter hooks activation modules
        blocks: list[nn.Module] = []
        current = widths[0]
        for index, (count, planes_out) in enumerate(zip(stages, widths, strict=True)):
            for block in range(count):
                stride = 2 if index > 0 and block == 0 else 1
                blocks.append(BasicBlock(current, planes_out, stride, shortcut))
                current = planes_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(current, num_classes)
        _kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.fc(self.pool(self.blocks(out)).flatten(1))


class ResNet20(_CifarResNet):
    """ResNet-20 for CIFAR (He et al. 2016 §4.2): 16/32/64·width channels, 3 blocks per stage, option-A shortcuts."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0, image_size: int = 32) -> None:
        super().__init__([3, 3, 3], [16, 32, 64], "A", in_channels, num_classes, width, image_size)


class ResNet18(_CifarResNet):
    """ResNet-18, CIFAR style: 3×3 stem, 64/128/256/512·width channels, 2 blocks per stage, projection shortcuts."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0, image_size: int = 32) -> None:
        super().__init__([2, 2, 2, 2], [64, 128, 256, 512], "B", in_channels, num_classes, width, image_size)


ZOO: dict[str, Callable[..., nn.Module]] = {
    "lenet300100": LeNet300100,
    "lenet5": LeNet5,
    "vgg11": lambda **kw: VGG(11, **kw),
    "vgg16": lambda **kw: VGG(16, **kw),
    "vgg19": lambda **kw: VGG(19, **kw),
    "resnet20": ResNet20,
    "resnet18": ResNet18,
}


def zoo_model(name: str, **kwargs: object) -> nn.Module:
    """The model registered as ``name`` in :data:`ZOO`, built with ``kwargs`` (in_channels, num_classes, …)."""
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(ZOO)}")
    return ZOO[name](**kwargs)
