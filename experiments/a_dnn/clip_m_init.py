"""Why a larger clip m fails at depth 100: where the initialised network sits (results/a_dnn/clip_m_init.txt)

clip_m.toml trained crelu at s = 0.85 with m = 1.5 / 2 / 3 (and cst with m = 1.5): all stayed at chance, and the
measured sparsity fell to 0.84 / 0.73 / 0.62 (cst 0.52) in the first epoch. This looks at the network each run
starts from, without training: DeepMLP(depth 100, width 300) built as the training loop builds it, 256 MNIST
training images, 5 seeds. Per cell: the GP's slope V'(q*) and its other fixed points (V(q) = q for q in
[0.01, 1000], besides q*), and, measured, the mean square of the pre-activations and the zero fraction at layers
10 / 50 / 100, the initial cross-entropy (chance: 2.30), all medians over seeds.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/clip_m_init.py > results/a_dnn/clip_m_init.txt
"""

import numpy as np
import torch
import torch.nn.functional as F

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP

torch.set_num_threads(1)
images = data.load("mnist", "train")
x, y = images.x[:256].flatten(1), images.y[:256]
SECOND_MOMENT = float(images.x.pow(2).mean())  # what the training loop's match_input passes to the first layer
DEPTH, WIDTH, SEEDS, PROBES = 100, 300, range(5), (10, 50, 100)
CELLS = [("crelu", 1.0), ("crelu", 1.5), ("crelu", 2.0), ("crelu", 3.0), ("cst", 1.0), ("cst", 1.5)]


def other_fixed_points(eoc) -> list[float]:
    """Roots of V(q) - q on a log grid over [0.01, 1000], q* excluded."""
    q = np.geomspace(1e-2, 1e3, 4001)
    gap = eoc.variance_map(q) - q
    roots = [float(q[i]) for i in np.flatnonzero(np.sign(gap[:-1]) != np.sign(gap[1:]))]
    return [r for r in roots if abs(r / eoc.q_star - 1) > 0.02]


def probe(eoc, seed: int) -> tuple[list[float], list[float], float]:
    """Pre-activation mean square and activation zero fraction at PROBES, and the initial loss."""
    torch.manual_seed(seed)
    net = DeepMLP(DEPTH, WIDTH, eoc, 784, 10, input_second_moment=SECOND_MOMENT)
    q, zeros, h, layer = [], [], x, 0
    with torch.no_grad():
        for module in net.layers:
            h = module(h)
            if isinstance(module, torch.nn.Linear) and layer < DEPTH:
                layer += 1
                if layer in PROBES:
                    q.append(float(h.pow(2).mean()))
                    zeros.append(float((eoc.module()(h) == 0).float().mean()))
        loss = float(F.cross_entropy(h, y))
    return q, zeros, loss


print(__doc__.splitlines()[0])
print(f"MLP depth {DEPTH}, width {WIDTH}, s = 0.85, q* = 1, seeds {SEEDS.start}-{SEEDS.stop - 1}, 256 MNIST images\n")
head = "  ".join(f"q@{p:<3d}" for p in PROBES) + "  " + "  ".join(f"s@{p:<3d}" for p in PROBES)
print(f"activation   m  V'(q*)  other fixed points  {head}  initial loss")
for name, m in CELLS:
    eoc = sparseinit.edge_of_chaos(name, sparsity=0.85, m=m)
    runs = [probe(eoc, seed) for seed in SEEDS]
    q = np.median([r[0] for r in runs], axis=0)
    s = np.median([r[1] for r in runs], axis=0)
    loss = float(np.median([r[2] for r in runs]))
    others = ", ".join(f"{r:.2f}" for r in other_fixed_points(eoc)) or "none"
    cols = "  ".join(f"{v:6.2f}" for v in q) + "  " + "  ".join(f"{v:6.3f}" for v in s)
    print(f"{name:<10} {m:3.1f}  {eoc.slope:6.3f}  {others:<18}  {cols}  {loss:12.2f}")
