"""Which depth-100 crelu MLPs start with a closed layer: each seed's initialisation (seed_diagnostics.txt)

crelu at s = 0.85, depth 100, width 600, lr 3e-3 reached 73.87 % in seed 0 and 47.46 % in seed 1
(width600_depth100_lr3e-3.toml, _seed1.toml). In the CNN, the number of input-selective channels in the narrowest
layer at initialisation told which seeds train (../a_cnn/seed_diagnostics.txt). This builds, without training, the
network each MLP run starts from (sparseinit.training.loop.build_model after torch.manual_seed(seed), input second
moment matched on the training images) and measures on 256 MNIST training images:
- min sel.: input-selective units (on the linear piece for some but not all images) in the narrowest of the 100
  layers, as a fraction and a count; mean sel.: the fraction averaged over the layers;
- spread: how much the last layer's pre-activations differ between images (std over images, mean over units);
- passing: the fewest units of any layer on a linear piece for at least one of the first 5,000 training images, and
  closed: the layers with none, as the training loop measures it (sparseinit.input_selectivity; "-" for none).

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/seed_diagnostics.py > results/a_dnn/seed_diagnostics.txt
"""

import numpy as np
import torch

from sparseinit import data, input_selectivity
from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import build_model

torch.set_num_threads(1)
SEEDS, IMAGES, WIDTHS = range(5), 256, (300, 600)


def closed_layer(net: torch.nn.Module, x: torch.Tensor) -> tuple[float, float, float]:
    """(min sel., mean sel., spread) of a network's hidden layers (sparseinit.input_selectivity)."""
    found = input_selectivity(net, x)
    return found.min_fraction, float(np.mean(found.fraction)), found.spread


def main() -> None:
    train = data.load("mnist", "train")
    second_moment = float(train.x.pow(2).mean())
    print(__doc__.split("\n\n")[0])
    print(f"DeepMLP depth 100, crelu at s = 0.85, q* = 1, m = 1; {IMAGES} MNIST training images\n")
    print(f"{'width':>5s} {'seed':>4s} {'min sel.':>8s} {'units':>5s} {'mean sel.':>9s} {'spread':>8s} {'passing':>7s} "
          f"{'closed':>6s}")
    for width in WIDTHS:
        for seed in SEEDS:
            config = TrainConfig(dataset="mnist", model="mlp", depth=100, width=width, activation="crelu",
                                 sparsity=0.85, m=1.0, seed=seed)
            torch.manual_seed(seed)  # as the training loop does before building its model
            net = build_model(config, train.shape, train.num_classes, second_moment)
            low, mean, spread = closed_layer(net, train.x[:IMAGES])
            probe = input_selectivity(net, train.x[:5000])
            closed = ",".join(str(i + 1) for i in probe.closed_layers) or "-"
            print(f"{width:5d} {seed:4d} {low:8.4f} {round(low * width):5d} {mean:9.3f} {spread:8.4f} "
                  f"{min(probe.passing):7d} {closed:>6s}", flush=True)


if __name__ == "__main__":
    main()
