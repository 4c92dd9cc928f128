"""Where the gradient of a depth-100 network sits, at initialisation and after 60 epochs (trained_grad_norm.txt)

Every depth-100 run on the 60-epoch budget clips the gradient norm at 1. This measures, for finished run folders
(their initial network, redrawn from the run's seed, and their trained one, loaded from the last checkpoint), over
BATCHES MNIST training batches of 128 in training mode: the gradient norm |g| (so whether the clip acts, and by how
much it shrinks every step), the loss, and the share of |g|^2 in the first layer's weight, in the first ten layers
(weights and biases), in the last ten and in the biases.

The run folders are git-ignored: they come from the sweeps named in ../../results/a_dnn/README.md
(depth100_logit_scale.toml, depth100_cst_logit_scale.toml, depth100_relu_epochs60_seeds12.toml), and the last row is
ReLU trained for 2 epochs only (a cosine over 2 epochs; otherwise its 60-epoch recipe), for a ReLU network whose loss
is not yet below the sparse ones' after 60 epochs:
  .venv/bin/sparseinit train --dataset mnist --model mlp --depth 100 --width 300 --activation relu --optimizer sgd \
      --momentum 0.9 --lr 1e-2 --schedule cosine --warmup-steps 391 --grad-clip 1 --batch-size 128 --epochs 2 \
      --seed 0 --out runs/a_dnn/trained_grad_norm/relu-epochs2-seed0
A folder that is not there is reported as missing and skipped.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/trained_grad_norm.py > results/a_dnn/trained_grad_norm.txt
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sparseinit import load_run
from sparseinit.training.loop import initial_model, load_run_data

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
BATCHES, BATCH, EDGE = 20, 128, 10
RUNS = [
    "runs/a_dnn/depth100_logit_scale/crelu-s0.85-m1-q1-seed0-eec21fb6",
    "runs/a_dnn/depth100_logit_scale/crelu-s0.85-m1-q1-seed1-41766863",
    "runs/a_dnn/depth100_logit_scale/crelu-s0.85-m1-q1-seed2-731392b0",
    "runs/a_dnn/depth100_cst_logit_scale/cst-s0.85-m1-q1-seed0-8ce2a14b",
    "runs/a_dnn/depth100_cst_logit_scale/relu-q1-seed0-1d690337",
    "runs/a_dnn/depth100_relu_epochs60_seeds12/relu-q1-seed1-caecd60c",
    "runs/a_dnn/trained_grad_norm/relu-epochs2-seed0",
]


def squared_gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[dict[str, float], float]:
    """Per parameter tensor, |grad|^2 of one batch's cross-entropy; and the loss."""
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return {name: float(p.grad.double().pow(2).sum()) for name, p in model.named_parameters()}, float(loss.detach())


def layer_of(name: str, layers: list[str]) -> int:
    """Index of the linear layer a parameter belongs to (its module name, in order of the forward pass)."""
    return layers.index(name.rsplit(".", 1)[0])


def describe(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> str:
    model.train()
    layers = list(dict.fromkeys(name.rsplit(".", 1)[0] for name, _ in model.named_parameters()))
    generator = torch.Generator().manual_seed(1)
    norms, losses, shares = [], [], []
    for _ in range(BATCHES):
        pick = torch.randint(len(y), (BATCH,), generator=generator)
        squares, loss = squared_gradients(model, x[pick], y[pick])
        total = sum(squares.values())
        first = sum(v for n, v in squares.items() if layer_of(n, layers) < EDGE)
        last = sum(v for n, v in squares.items() if layer_of(n, layers) >= len(layers) - EDGE)
        bias = sum(v for n, v in squares.items() if n.endswith("bias"))
        norms.append(total ** 0.5)
        losses.append(loss)
        shares.append((squares[f"{layers[0]}.weight"] / total, first / total, last / total, bias / total))
    norms, share = np.array(norms), np.mean(shares, axis=0)
    return (f"{norms.min():7.3f} {norms.mean():7.3f} {norms.max():7.3f} {np.mean(norms > 1):5.2f} "
            f"{np.mean(losses):7.4f}   {share[0]:5.3f} {share[1]:6.3f} {share[2]:6.3f} {share[3]:5.3f}")


def main() -> None:
    print(__doc__.split("\n\n")[0])
    print(f"{BATCHES} random MNIST training batches of {BATCH} per network, training mode; shares of |g|^2 are means"
          f" over the batches; first / last {EDGE}: the first / last {EDGE} linear layers (weights and biases)\n")
    print(f"{'run':<34s} {'net':<7s} {'|g| min':>7s} {'mean':>7s} {'max':>7s} {'>1':>5s} {'loss':>7s}   "
          f"{'layer1':>5s} {'first':>6s} {'last':>6s} {'bias':>5s}")
    for folder in RUNS:
        name = Path(folder).name
        if not (ROOT / folder / "checkpoint.pt").exists():
            print(f"{name:<34s} missing (run its sweep first)")
            continue
        run = load_run(ROOT / folder)
        data = load_run_data(run.config, torch.device("cpu"))
        x, y = data.train
        initial = initial_model(run.config, data, 0, torch.device("cpu"))  # no run here redrew its initialisation
        print(f"{name:<34s} {'init':<7s} {describe(initial, x, y)}")
        print(f"{'':<34s} {'trained':<7s} {describe(run.model, x, y)}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
