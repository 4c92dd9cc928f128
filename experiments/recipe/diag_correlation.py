"""How much of the last hidden pre-activation still depends on the input at init (fraction of its second moment
that varies across 512 MNIST images), the logit spread across inputs, and relative weight-gradient norms, for
relu and crelu/cst (m = 1, 3) at widths 100 and 300.  Output: results/recipe/diag_correlation.txt
    OMP_NUM_THREADS=1 .venv/bin/python experiments/recipe/diag_correlation.py"""

import torch

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP

torch.set_num_threads(1)
tr = data.load("mnist", "train")
x, y = tr.x[:512], tr.y[:512]
for act, s, kw in [
    ("relu", 0.5, {}),
    ("crelu", 0.85, dict(m=1.0)),
    ("cst", 0.85, dict(m=1.0)),
    ("crelu", 0.85, dict(m=3.0)),
]:
    torch.manual_seed(0)
    p = sparseinit.edge_of_chaos(act, s, **kw)
    for w in (100, 300):
        torch.manual_seed(0)
        net = DeepMLP(100, w, p, 784, 10)
        hs = []
        h = x.flatten(1)
        for _i, mod in enumerate(net.layers):
            h = mod(h)
            if isinstance(mod, torch.nn.Linear):
                hs.append(h)
        pre = hs[-2]  # last hidden pre-activation
        hc = pre - pre.mean(0, keepdim=True)
        # fraction of variance across inputs vs total second moment
        frac = (hc.pow(2).mean() / pre.pow(2).mean()).item()
        logits = hs[-1]
        lstd = logits.std(0).mean().item()
        lmean = logits.mean(0).abs().mean().item()
        loss = torch.nn.functional.cross_entropy(logits, y)
        net.zero_grad()
        loss.backward()
        lin = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
        g = [lay.weight.grad.norm().item() / lay.weight.norm().item() for lay in lin]
        gb = [lay.bias.grad.norm().item() for lay in lin]
        print(
            f"{act:6s} {kw} w{w}: q_last={pre.pow(2).mean():.3f} input-varying frac={frac:.4f} "
            f"logit std across inputs {lstd:.3f} |mean| {lmean:.3f}  rel grad W first/mid/last "
            f"{g[0]:.2e} {g[50]:.2e} {g[-2]:.2e} {g[-1]:.2e}"
        )
