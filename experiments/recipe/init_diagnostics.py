"""Init diagnostics for the recipe search (results/recipe/init_diagnostics.txt).
Part 1 (GP theory + a real width-300 net on 500 MNIST inputs): sigma_b^2/q*, 1-rho after 100 layers, fraction of
hidden units dead on every input / input-selective, vs sparsity.
Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/recipe/init_diagnostics.py"""

import warnings

import numpy as np
import torch

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP

warnings.simplefilter("ignore")
torch.set_num_threads(1)
x = data.load("mnist", "train").x[:500]


def rho100(p, r=0.5):
    for _l in range(100):
        r = float(np.asarray(p.correlation_map([r]))[0])
    return 1 - r


print("act     s     sb2/q*  1-rho100(GP)  dead-unit frac / selective frac (w300, 500 inputs)")
for act in ["relu_tau", "crelu", "cst"]:
    for s in [0.5, 0.6, 0.7, 0.8, 0.85, 0.9]:
        kw = dict(m=1.0) if act in ("crelu", "cst") else {}
        try:
            p = sparseinit.edge_of_chaos(act, s, **kw)
        except Exception as e:
            print(act, s, e)
            continue
        torch.manual_seed(0)
        net = DeepMLP(100, 300, p, 784, 10)
        h = x.flatten(1)
        dead = []
        sel = []
        with torch.no_grad():
            for mod in net.layers:
                h = mod(h)
                if mod.__class__.__name__ not in ("Linear", "Flatten"):
                    f = (h != 0).float().mean(0)
                    dead.append((f < 0.01).float().mean().item())
                    sel.append(((f > 0.05) & (f < 0.95)).float().mean().item())
        print(
            f"{act:8s} {s:.2f}  {p.sigma_b2 / p.q_star:.3f}   {rho100(p):.2e}      {np.mean(dead):.2f} "
            f"/ {np.mean(sel):.2f}"
        )

print("\n# part 2: clip m at s = 0.85 (width 300): dead / selective units, last-layer variance q")
for act in ["crelu", "cst"]:
    for m in [0.5, 1, 1.5, 2, 3, 5]:
        p = sparseinit.edge_of_chaos(act, 0.85, m=m)
        torch.manual_seed(0)
        net = DeepMLP(100, 300, p, 784, 10)
        h = x.flatten(1)
        dead = []
        sel = []
        satd = []
        with torch.no_grad():
            for mod in net.layers:
                h = mod(h)
                if mod.__class__.__name__ not in ("Linear", "Flatten"):
                    f = (h != 0).float().mean(0)
                    dead.append((f < 0.01).float().mean().item())
                    sel.append(((f > 0.05) & (f < 0.95)).float().mean().item())
                    satd.append((h.abs() >= m - 1e-6).float().mean().item())
        print(
            f"{act} m={m}: V'={p.slope:.3f} sb2={p.sigma_b2:.3f} dead {np.mean(dead):.2f} selective "
            f"{np.mean(sel):.2f} saturated-output frac {np.mean(satd):.3f} last-layer q {h.pow(2).mean():.3g}"
        )

print("\n# part 3: per-layer sparsity and variance at init, widths 100 and 300")
for act, m in [("cst", 1.0), ("cst", 1.25), ("cst", 1.5), ("crelu", 1.5), ("crelu", 2.0)]:
    for w in (100, 300):
        p = sparseinit.edge_of_chaos(act, 0.85, m=m)
        torch.manual_seed(0)
        net = DeepMLP(100, w, p, 784, 10)
        h = x.flatten(1)
        sp = []
        q = []
        with torch.no_grad():
            for mod in net.layers:
                if mod.__class__.__name__ not in ("Linear", "Flatten"):
                    q.append(h.pow(2).mean().item())
                h = mod(h)
                if mod.__class__.__name__ not in ("Linear", "Flatten"):
                    sp.append((h == 0).float().mean().item())
        print(
            f"{act} m={m} w{w}: sparsity at layers 1/25/50/75/100: "
            f"{' '.join(f'{sp[i]:.2f}' for i in (0, 24, 49, 74, 99))} "
            f"mean {np.mean(sp):.3f}; q {' '.join(f'{q[i]:.2f}' for i in (0, 24, 49, 74, 99))}"
        )
