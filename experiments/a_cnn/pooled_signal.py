"""Why crelu stays at chance in the plain CNN: the input signal left after the global average pool (pooled_signal.txt)

crelu at s = 0.85 stays at chance in the 20-layer CNN at 16 channels (lr 1e-2 and 3e-3) and at 32 channels
(width32.toml, stopped after two epochs at chance), while in the depth-20 MLP it trains to within 1.5 points of
ReLU. This measures, without training, the DeepCNN the training loop builds (EoC point, q* = 1, m = 1,
match_input) on 64 Fashion-MNIST training images, 3 seeds:
- min sel. / mean sel.: the fraction of a layer's channels that are input-selective (on, i.e. on the linear piece,
  for some but not all image-positions), in the narrowest layer / averaged over layers;
- per-position spread: how much the last layer's pre-activations differ between images at the same position (std
  over images, averaged over channels and positions);
- pooled spread: how much the globally pooled features the read-out sees differ between images (std over images,
  averaged over channels). A read-out can only separate classes through this.
- sparsity / q: the fraction of zeros of the hidden activations and the pre-activations' second moment, averaged over
  the layers (the GP's values: 0.85 and q* = 1 for crelu/cst; ReLU 0.5). With few channels every layer's q is a
  mean over few random biases and filters, and the network's sparsity drifts above the target at initialisation.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_cnn/pooled_signal.py > results/a_cnn/pooled_signal.txt
"""

import numpy as np
import torch

import sparseinit
from sparseinit import data
from sparseinit.models import DeepCNN

torch.set_num_threads(1)
IMAGES, SEEDS, DEPTH = 64, 3, 20
POINTS = [("relu", None), ("crelu", 0.85), ("cst", 0.85)]
CHANNELS = (16, 32, 64, 128)


@torch.no_grad()
def layer_statistics(net: torch.nn.Module, x: torch.Tensor) -> tuple[float, ...]:
    """(min sel., mean sel., per-position spread, pooled spread, sparsity, q) of a DeepCNN on the images ``x``."""
    found = sparseinit.input_selectivity(net, x, batch_size=len(x))
    zeros, second_moments, h = [], [], x
    for module in net.layers:
        if isinstance(module, (torch.nn.AdaptiveAvgPool2d, torch.nn.Flatten)):
            break
        h = module(h)
        if isinstance(module, torch.nn.Conv2d):
            second_moments.append(float(h.pow(2).mean()))
        else:
            zeros.append(float((h == 0).float().mean()))
    pooled = h.mean(dim=(2, 3))
    return (found.min_fraction, float(np.mean(found.fraction)), found.spread, float(pooled.std(dim=0).mean()),
            float(np.mean(zeros)), float(np.mean(second_moments)))


def measure(eoc, channels: int, seed: int, x: torch.Tensor, second_moment: float) -> tuple[float, ...]:
    """:func:`layer_statistics` of one initialised DeepCNN with the global average pool."""
    torch.manual_seed(seed)
    return layer_statistics(DeepCNN(DEPTH, channels, eoc, 1, 10, input_second_moment=second_moment), x)


def main() -> None:
    images = data.load("fashion-mnist", "train")
    x = images.x[:IMAGES]
    second_moment = float(images.x[:10_000].pow(2).mean())  # match_input on the 10k training subset
    print(__doc__.split("\n\n")[0])
    print(f"DeepCNN depth {DEPTH}, 3x3 'same' convolutions; {SEEDS} seeds x {IMAGES} Fashion-MNIST training images; "
          "q* = 1, m = 1 for crelu/cst\n")
    print(f"{'activation':10s} {'s':>4s} {'channels':>8s} {'min sel.':>8s} {'mean sel.':>9s} "
          f"{'per-position spread':>19s} {'pooled spread':>13s} {'sparsity':>8s} {'q':>5s}")
    for name, s in POINTS:
        eoc = sparseinit.edge_of_chaos(name) if s is None else sparseinit.edge_of_chaos(name, s, m=1.0)
        for channels in CHANNELS:
            rows = [measure(eoc, channels, seed, x, second_moment) for seed in range(SEEDS)]
            low, mean, position, pooled, sparsity, q = np.mean(rows, axis=0)
            label = "-" if s is None else f"{s:.2f}"
            print(f"{name:10s} {label:>4s} {channels:8d} {low:8.3f} {mean:9.3f} {position:19.4f} {pooled:13.5f} "
                  f"{sparsity:8.3f} {q:5.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
