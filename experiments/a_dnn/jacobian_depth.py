"""How many directions carry the gradient through l layers at initialisation? (results/a_dnn/jacobian_depth.txt)

Target (i) against depth (results/a_dnn/README.md): crelu at s = 0.85 trains like ReLU at the depth of equal GP
input correlation up to 60 layers, but at 100 layers it is far below ReLU at the equivalent 284. The GP maps are
infinite-width averages; this measures a finite-width quantity they leave out, in the networks the training loop
builds (DeepMLP, width 300, EoC point q* = 1, m = 1, match_input), on MNIST training images, without training.

For each input, J_l = ∂h^l/∂h^1 (hidden pre-activations of layer l against those of layer 1, both width n = 300)
is built exactly, J_{l+1} = W_{l+1} diag(φ'(h^l)) J_l. Columns, over 6 seeds (networks) × 16 images each:
- gain ‖J_l‖_F²/n: the mean squared singular value, χ₁^{l-1} = 1 on the EoC in the GP limit (median over
  inputs: it is heavy-tailed);
- rank bound: the fewest units of any layer 1..l-1 that pass a gradient for this input (φ' ≠ 0), an upper
  bound on rank J_l (ReLU ~ n/2; crelu at s = 0.85: the ~10 % of units between τ and τ + m);
- effective rank (Σσ²)²/Σσ⁴ of J_l's singular values σ: how many directions share the gradient. A wide spread of
  singular values (a few directions carrying most of it) makes the problem ill-conditioned for SGD.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/jacobian_depth.py > results/a_dnn/jacobian_depth.txt
"""

import numpy as np
import torch

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP

torch.set_num_threads(1)
images = data.load("mnist", "train")
SECOND_MOMENT = float(images.x.pow(2).mean())  # what the training loop's match_input passes to the first layer
WIDTH, SEEDS, INPUTS = 300, 6, 16
DEPTHS = (10, 20, 30, 40, 60, 100)
# ReLU also at 117 / 173 / 284: the depths of equal GP correlation to crelu at 40 / 60 / 100 (correlation_depth.txt)
POINTS = [("relu", None, (*DEPTHS, 117, 173, 284)), ("crelu", 0.85, DEPTHS), ("cst", 0.85, DEPTHS)]


@torch.no_grad()
def jacobian_stats(eoc, seed: int, depths: tuple[int, ...], width: int = WIDTH,
                   inputs: int = INPUTS) -> np.ndarray:
    """[input, depth, (gain, rank bound, effective rank)] for one network of depth max(depths)."""
    torch.manual_seed(seed)
    net = DeepMLP(max(depths), width, eoc, 784, 10, input_second_moment=SECOND_MOMENT).double()
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)][:max(depths)]
    phi = [m for m in net.layers if not isinstance(m, (torch.nn.Linear, torch.nn.Flatten))][:max(depths)]
    x = images.x[seed * inputs:(seed + 1) * inputs].flatten(1).double()
    out = np.zeros((inputs, len(depths), 3))
    for i in range(inputs):
        h = linears[0](x[i])
        jac = torch.eye(width, dtype=torch.float64)
        fewest = width
        for layer in range(1, max(depths) + 1):
            if layer in depths:
                sv2 = torch.linalg.svdvals(jac) ** 2
                out[i, depths.index(layer)] = (float(sv2.sum()) / width, fewest,
                                               float(sv2.sum() ** 2 / (sv2 ** 2).sum()))
            if layer == max(depths):
                break
            with torch.enable_grad():
                hg = h.clone().requires_grad_(True)
                a = phi[layer - 1](hg)
                (slope,) = torch.autograd.grad(a.sum(), hg)
            fewest = min(fewest, int((slope != 0).sum()))
            jac = linears[layer].weight @ (slope[:, None] * jac)
            h = linears[layer](a.detach())
    return out


def main() -> None:
    print(__doc__.split("\n\n")[0])
    print(f"width {WIDTH}; {SEEDS} seeds x {INPUTS} MNIST training images; q* = 1, m = 1 for crelu/cst\n")
    print(f"{'activation':10s} {'depth':>5s} {'median gain':>11s} {'rank bound':>10s} {'eff. rank':>9s}")
    for name, s, depths in POINTS:
        eoc = sparseinit.edge_of_chaos(name) if s is None else sparseinit.edge_of_chaos(name, s, m=1.0)
        stats = np.concatenate([jacobian_stats(eoc, seed, depths) for seed in range(SEEDS)])
        for k, d in enumerate(depths):
            gain = np.median(stats[:, k, 0])  # heavy-tailed across inputs: the median, not the mean
            bound, eff = stats[:, k, 1:].mean(axis=0)
            print(f"{name:10s} {d:5d} {gain:11.3f} {bound:10.1f} {eff:9.2f}", flush=True)


if __name__ == "__main__":
    main()
