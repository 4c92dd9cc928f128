"""Does the initialised network already explode? (results/a_dnn/init_explosion.txt; issue 3 §5 target (ii))

Every relu_tau / st run at s >= 0.8 of the [A]-DNN grid diverged at optimizer step 0: the first forward pass of
the freshly initialised depth-100 MLP gave a loss > 1e6 or a non-finite one. This measures that directly, without
training: for each activation, sparsity and width, several seeds of DeepMLP(depth 100) at the EoC point (q* = 1,
m = 1 for crelu/cst) are built and fed 256 MNIST training images. Reported per cell: the fraction of seeds whose
initial cross-entropy is non-finite or > 1e6 (the training loop's divergence rule), the median initial loss, and
the median first layer whose pre-activation mean square exceeds 10 q* ("-" if none does).

Part 2 asks whether the blow-up comes from the spread of the inputs' own starting variances q⁰(x) = σ_w²‖x‖²/n + σ_b²
(about half of the images start above q*, where the unclipped maps run away) or from finite-width noise alone:
the same networks fed the same images, each rescaled to the mean norm of the 256, so that every input starts at q*.

The networks are built as the training loop builds them (match_input: the first layer scaled by the training set's
mean square, so that an average input starts at q*).

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/init_explosion.py > results/a_dnn/init_explosion.txt
"""

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP
from sparseinit.training.loop import EXPLODED_LOSS

warnings.simplefilter("ignore")  # overflow in the exploding networks is the point
torch.set_num_threads(1)
images = data.load("mnist", "train")
x, y = images.x[:256].flatten(1), images.y[:256]
SECOND_MOMENT = float(images.x.pow(2).mean())  # what the training loop's match_input passes to the first layer
DEPTH = 100
SEEDS = {100: 10, 300: 10, 1000: 3}


def first_pass(eoc, width: int, seed: int, x: torch.Tensor = x) -> tuple[float, int | None]:
    """Initial loss and the first hidden layer (1-based) whose pre-activation mean square exceeds 10 q*."""
    torch.manual_seed(seed)
    net = DeepMLP(DEPTH, width, eoc, 784, 10, input_second_moment=SECOND_MOMENT)
    h, layer, first_big = x, 0, None
    with torch.no_grad():
        for module in net.layers:
            if isinstance(module, torch.nn.Linear) and layer < DEPTH:
                h = module(h)
                layer += 1
                if first_big is None and not float(h.pow(2).mean()) <= 10 * eoc.q_star:
                    first_big = layer
            else:
                h = module(h)
        loss = float(F.cross_entropy(h, y))
    return loss, first_big


def table(cells, x: torch.Tensor) -> None:
    print("activation  s     width  exploded  median initial loss  median first layer > 10 q*")
    for activation, s, width, seeds in cells:
        eoc = sparseinit.edge_of_chaos(activation, s, **({"m": 1.0} if activation in ("crelu", "cst") else {}))
        runs = [first_pass(eoc, width, seed, x) for seed in range(seeds)]
        losses = np.array([loss for loss, _ in runs])
        exploded = np.mean([not (math.isfinite(v) and v <= EXPLODED_LOSS) for v in losses])
        layers = [big for _, big in runs if big is not None]
        median_layer = f"{np.median(layers):.0f} ({len(layers)}/{seeds})" if layers else "-"
        median_loss = f"{np.median(np.nan_to_num(losses, nan=np.inf)):.3g}"  # a NaN loss counts as +inf
        print(f"{activation:10s}  {s:.2f}  {width:5d}  {exploded:8.0%}  {median_loss:>19s}  {median_layer}",
              flush=True)


norms = x.norm(dim=1)
print(f"# depth {DEPTH}, 256 MNIST images, EoC q* = 1 (m = 1 for crelu/cst); seeds per width {SEEDS}")
print(f"# image norms: min {norms.min():.2f}, median {norms.median():.2f}, max {norms.max():.2f}")
print("\n## part 1: the images as the training loop sees them")
table([(a, s, w, n) for a in ["relu_tau", "st", "crelu", "cst"] for s in [0.5, 0.7, 0.8, 0.85, 0.9]
       if not (a == "relu_tau" and s == 0.5)  # tau = 0: plain ReLU
       for w, n in SEEDS.items()], x)
print("\n## part 2: every image rescaled to the mean norm (every input starts at q*)")
table([(a, s, 300, 10) for a in ["relu_tau", "st"] for s in [0.7, 0.85, 0.9]], x / norms[:, None] * norms.mean())
