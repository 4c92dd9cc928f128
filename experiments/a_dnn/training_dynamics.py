"""What happens in the first epochs of training at depth 100? (results/a_dnn/training_dynamics.txt)

The grid's recipe (SGD, momentum 0.9, one-epoch linear warm-up, cosine, gradient-norm clip 1, batch 128) on MNIST,
MLP depth 100, width 300 (and 600), run here step by step (the training loop's model, data order and learning rate; no
checkpoints) with probes every PROBE_EVERY steps on 256 fixed training images:
- loss: the mean training loss over the last PROBE_EVERY batches; acc: probe accuracy (%);
- |g|: the gradient norm before clipping (median over the last PROBE_EVERY steps; clip at 1);
- q range: the smallest and largest mean square of a hidden pre-activation layer on the probe (q* = 1 at init);
- dead / always / selective: hidden units (all layers) on for none / all / some of the probe images
  ("on" = derivative 1: between τ and τ + m for crelu, > 0 for ReLU); min sel.: the fewest selective units of
  any one layer (fraction of its width);
- spread: how much the last hidden layer's pre-activations differ between inputs (std over the probe images,
  averaged over units): the input signal that reaches the readout;
- speed: the NTK speed of ntk_spectrum.py (label signal fitted per step at lr 1/λ₁) on the probe.
ReLU and crelu (s = 0.85, q* = 1, m = 1) with the recipe as it is, then crelu with three changes aimed at what
the first runs show, a collapse at the peak learning rate (CHANGES below). 1200 steps (~3 epochs) each.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/training_dynamics.py > results/a_dnn/training_dynamics.txt
(~35 min on one core), then draw training_dynamics.png from that output:
     .venv/bin/python experiments/a_dnn/training_dynamics.py --plot results/a_dnn/training_dynamics.txt
"""

import argparse
import math
import statistics
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import pyplot as plt
from ntk_spectrum import ntk
from ntk_spectrum import stats as ntk_stats

from sparseinit import data
from sparseinit.figures import save_figure
from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import build_model, lr_at

STEPS, PROBE_EVERY, PROBE = 1200, 100, 256
# (activation, sparsity, lr, width, change to the recipe)
RUNS = [("relu", None, 1e-2, 300, None), ("crelu", 0.85, 1e-2, 300, None), ("crelu", 0.85, 3e-3, 300, None),
        ("crelu", 0.85, 1e-2, 600, None), ("crelu", 0.85, 1e-2, 300, "frozen biases"),
        ("crelu", 0.85, 3e-2, 300, "frozen biases"), ("crelu", 0.85, 1e-2, 300, "per-layer clip"),
        ("crelu", 0.85, 1e-2, 300, "layer-relative steps")]
CHANGES = {
    None: "the recipe as it is",
    "frozen biases": "hidden-layer biases not trained (they set each unit's threshold offset)",
    "per-layer clip": "each layer's gradient clipped to norm 1/sqrt(101) instead of the whole gradient to 1",
    "layer-relative steps": "each weight/bias gradient rescaled to norm 0.01 ||W|| (a LARS-like trust ratio), no clip",
}


def probe(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Unit states, pre-activation scale, accuracy and NTK speed of ``model`` on the probe batch."""
    weight, bias, hidden = ntk(model, x)
    labels = np.eye(10)[y.numpy()]
    labels -= labels.mean(axis=0)
    phis = [m for m in model.layers if not isinstance(m, (torch.nn.Linear, torch.nn.Flatten))]
    on = []  # [layer][image, unit]: the activation's derivative is 1 (linear piece) or 0
    for phi, h in zip(phis, hidden, strict=True):
        h = h.clone().requires_grad_(True)
        on.append(torch.autograd.grad(phi(h).sum(), h)[0] != 0)
    on = torch.stack(on)
    with torch.no_grad():
        logits = model(x)
    count = on.sum(dim=1)
    units = count.numel()
    q = torch.stack([h.pow(2).mean() for h in hidden])
    selective = ((count > 0) & (count < len(y))).float().mean(dim=1)
    return {"acc": float((logits.argmax(1) == y).float().mean() * 100),
            "dead": float((count == 0).sum()) / units, "always": float((count == len(y)).sum()) / units,
            "min_sel": float(selective.min()), "spread": float(hidden[-1].std(dim=0).mean()),
            "q_min": float(q.min()), "q_max": float(q.max()), "speed": ntk_stats(weight + bias, labels)[2]}


def _clip(model: torch.nn.Module, change: str | None) -> float:
    """Clip or rescale the gradient as ``change`` says; returns the gradient norm before."""
    linears = [m for m in model.layers if isinstance(m, torch.nn.Linear)]
    params = [p for p in model.parameters() if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))
    if change == "per-layer clip":
        for lin in linears:
            torch.nn.utils.clip_grad_norm_([lin.weight, lin.bias], 1.0 / math.sqrt(len(linears)))
    elif change == "layer-relative steps":
        for p in params:
            p.grad.mul_(0.01 * p.detach().norm() / p.grad.norm().clamp_min(1e-30))
    else:
        torch.nn.utils.clip_grad_norm_(params, 1.0)
    return norm


def run(activation: str, sparsity: float | None, lr: float, width: int, change: str | None) -> None:
    config = TrainConfig(dataset="mnist", model="mlp", depth=100, width=width, activation=activation,
                         sparsity=None if activation == "relu" else sparsity, m=None, optimizer="sgd",
                         momentum=0.9, lr=lr, schedule="cosine", warmup_steps=391, grad_clip=1.0, batch_size=128,
                         epochs=10, seed=0)
    train = data.load("mnist", "train")
    x, y = train.x, train.y
    torch.manual_seed(config.seed)
    model = build_model(config, train.shape, 10, float(x.pow(2).mean()))
    if change == "frozen biases":
        for lin in [m for m in model.layers if isinstance(m, torch.nn.Linear)][:-1]:
            lin.bias.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    total = math.ceil(len(y) / 128) * config.epochs
    px, py = x[-PROBE:], y[-PROBE:]
    print(f"\n{activation} s = {sparsity}, width {width}, lr {lr:g} (cosine over {config.epochs} epochs = {total} "
          f"steps); {CHANGES[change]}")
    print(f"{'step':>5s} {'lr':>8s} {'loss':>7s} {'acc':>5s} {'|g|':>8s} {'q min':>6s} {'q max':>7s} "
          f"{'dead':>5s} {'always':>6s} {'select.':>7s} {'min sel.':>8s} {'spread':>7s} {'speed':>8s}")
    losses, norms, step, epoch = [], [], 0, 0
    while step <= STEPS:
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
        for batch in order.split(128):
            if step % PROBE_EVERY == 0:
                p = probe(model, px, py)
                print(f"{step:5d} {lr_at(config, step, total):8.2e} "
                      f"{statistics.mean(losses) if losses else float('nan'):7.3f} {p['acc']:5.1f} "
                      f"{statistics.median(norms) if norms else float('nan'):8.2e} {p['q_min']:6.2f} "
                      f"{p['q_max']:7.2f} {p['dead']:5.3f} {p['always']:6.3f} "
                      f"{1 - p['dead'] - p['always']:7.3f} {p['min_sel']:8.3f} {p['spread']:7.4f} "
                      f"{p['speed']:8.2e}", flush=True)
                losses, norms = [], []
            if step == STEPS:
                return
            for group in optimizer.param_groups:
                group["lr"] = lr_at(config, step, total)
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(_clip(model, change))
            optimizer.step()
            losses.append(loss.item())
            step += 1
        epoch += 1


def plot(text: Path) -> Path:
    """Draw probe accuracy, the narrowest layer's selective units and the readout's input signal against step
    from this script's printed output; writes ``text`` with the suffix .png."""
    change_of = {text: key for key, text in CHANGES.items()}
    runs: dict[str, list[list[float]]] = {}
    for line in text.read_text().splitlines():
        if line.startswith(("relu", "crelu")):
            change = change_of[line.split("; ", 1)[1]]
            name = line.split(" (")[0].replace(" s = None", "") + ("" if change is None else f", {change}")
            rows = runs.setdefault(name, [])
        elif runs and line.strip()[:1].isdigit():
            rows.append([float(v) for v in line.split()])
    fig = plt.figure(figsize=(15, 5.5))
    grid = fig.add_gridspec(2, 3, height_ratios=(5, 1))
    axes = [fig.add_subplot(grid[0, k]) for k in range(3)]
    key = fig.add_subplot(grid[1, :])
    key.axis("off")
    for name, rows in runs.items():
        table = np.array(rows)
        style = {"linestyle": "-" if name.startswith("relu") else "--", "marker": ".", "label": name}
        for ax, column in zip(axes, (3, 10, 11), strict=True):
            ax.plot(table[:, 0], table[:, column], **style)
    axes[0].set(ylabel="probe accuracy (%)", title="accuracy on 256 training images")
    axes[1].set(ylabel="fraction of width", title="fewest input-selective units of any layer")
    axes[2].set(ylabel="std over inputs, mean over units", yscale="log",
                title="input signal at the last hidden layer")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    key.legend(*axes[0].get_legend_handles_labels(), loc="center", ncol=3, fontsize=8)
    return save_figure(fig, text.with_suffix(".png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", type=Path, help="draw the figure from this script's saved output instead of running")
    args = parser.parse_args()
    if args.plot is not None:
        print(plot(args.plot))
        return
    print(__doc__.split("\n\n")[0])
    torch.set_num_threads(1)
    for point in RUNS:
        run(*point)


if __name__ == "__main__":
    main()
