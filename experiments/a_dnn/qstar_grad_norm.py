"""Gradient-norm clipping and [B]'s q* at depth 100 (results/a_dnn/qstar_grad_norm.txt; issue 3 §5 [B]).

Without clipping, SGD trains the q* = 4 network (clip relative) exactly as the q* = 1 network of the same seed with
logits x2 and biases / first-layer weights at lr / 4 (TrainConfig.at_unit_q_star; tests/training/test_loop.py).
The depth-100 runs clip the gradient norm at 1, which measures each network's gradient in its own units. This
measures, on the initialised networks (no training), how much that matters: per seed, over 20 MNIST training
batches of 128, the gradient norm of the q* = 1, q* = 4 and q* = 1 with logits x2 networks (so whether the clip at
1 acts), the share of the biases in it, and the first SGD step of the q* = 4 network (clipped, converted to q* = 1
units: biases and first-layer weight / 2) against that of its q* = 1 equivalent (clipped in its own units): the
ratio of their lengths and their cosine. Ratio 1 and cosine 1 would mean the clip keeps the equivalence.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/qstar_grad_norm.py > results/a_dnn/qstar_grad_norm.txt
"""

import dataclasses

import torch
import torch.nn.functional as F

from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import initial_model, load_run_data

torch.set_num_threads(1)
CPU = torch.device("cpu")
BATCHES, BATCH, CLIP = 20, 128, 1.0
BASE = TrainConfig(dataset="mnist", depth=100, width=300, activation="crelu", sparsity=0.85, lr=3e-3)


def gradients(config: TrainConfig, data, xb, yb) -> dict[str, torch.Tensor]:
    model = initial_model(config, data, 0, CPU)
    F.cross_entropy(model(xb), yb).backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def norm(grads: dict[str, torch.Tensor]) -> float:
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())))


def clipped_step(grads: dict[str, torch.Tensor], scale: dict[str, float]) -> torch.Tensor:
    """One SGD step's direction and length (lr 1) after clipping the gradient norm at CLIP, per-parameter lr scale."""
    factor = min(1.0, CLIP / norm(grads))
    return torch.cat([(scale[n] * factor * g.double()).flatten() for n, g in grads.items()])


def main() -> None:
    data = load_run_data(BASE, CPU)
    x, y = data.train
    first = "layers.1.weight"
    print(f"MNIST MLP depth {BASE.depth}, width {BASE.width}, crelu s = 0.85, m = 1 (relative at q* = 4); "
          f"{BATCHES} training batches of {BATCH} per seed; clip at {CLIP:g}")
    print("seed  |g| q*=1       |g| q*=4       |g| q*=1,T2     bias share q*=1 / q*=4   step ratio q*=4 : equiv.  "
          "cosine")
    for seed in (0, 1, 2):
        q1 = dataclasses.replace(BASE, seed=seed)
        q4 = dataclasses.replace(q1, q_star=4.0, clip="relative")
        equiv = q4.at_unit_q_star()
        rows = []
        for i in range(BATCHES):
            xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
            g1, g4, ge = (gradients(c, data, xb, yb) for c in (q1, q4, equiv))
            bias = [norm({n: g[n] for n in g if n.endswith("bias")}) / norm(g) for g in (g1, g4)]
            to_unit = {n: 0.5 if n.endswith("bias") or n == first else 1.0 for n in g4}
            lr_scale = {n: 0.25 if n.endswith("bias") or n == first else 1.0 for n in ge}
            s4, se = clipped_step(g4, to_unit), clipped_step(ge, lr_scale)
            rows.append((norm(g1), norm(g4), norm(ge), *bias, float(s4.norm() / se.norm()),
                         float(torch.dot(s4, se) / (s4.norm() * se.norm()))))
        t = torch.tensor(rows)
        lo, hi = t.min(0).values, t.max(0).values
        cells = [f"{lo[k]:5.2f}-{hi[k]:5.2f}" for k in range(3)]
        print(f"{seed:<5} {cells[0]:<14} {cells[1]:<14} {cells[2]:<15} {t[:, 3].mean():.2f} / {t[:, 4].mean():.2f}"
              f"              {lo[5]:.3f}-{hi[5]:.3f}               {lo[6]:.4f}-{hi[6]:.4f}")
    print("ranges over the batches (min-max); bias share: mean over the batches of |g_bias| / |g|")


if __name__ == "__main__":
    main()
