"""How ill-conditioned is training at initialisation? The empirical NTK of the [A] MLPs (results/a_dnn/ntk_spectrum.txt)

crelu at s = 0.85 trains at depth 100 only once the learning rate is small, and then slowly (84 % after 60 epochs
against ReLU's 95 % after 10). Gradient descent on a kernel K (the NTK) is stable for lr < 2/λ₁ and fits the
eigen-direction v_k at rate lr·λ_k, so what sets the speed is how much of the label signal lies on directions whose
eigenvalue is a large fraction of λ₁. This measures it on the networks the training loop builds (DeepMLP, EoC
point, q* = 1, m = 1, match_input), on N MNIST training images, without training.

For an MLP the NTK of one output f is exact and cheap: with Δ_l = ∂f/∂h^l (N × width) and A_{l-1} the input of
layer l (N × fan_in), K = Σ_l (Δ_l Δ_lᵀ) ∘ (A_{l-1} A_{l-1}ᵀ) [weights] + Σ_l Δ_l Δ_lᵀ [biases]. f is the first
logit (the other logits give the same statistics at initialisation). Columns (mean over seeds):
- mean mode: the share of trace K on the constant vector 1/√N (the same change for every input): 1ᵀK1/(N tr K);
- λ₁/tr: the top eigenvalue's share of the trace;
- speed: the label signal fitted per step at lr 1/λ₁, yᵀKy/(λ₁‖y‖²) for y the centred one-hot labels (10
  columns; 1 = all label signal on the top direction). Training steps needed scale as 1/speed;
- bias share: the biases' part of tr K;
- speed w/o bias: the same speed if the biases were frozen (K without the bias terms).

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/ntk_spectrum.py > results/a_dnn/ntk_spectrum.txt
"""

import numpy as np
import torch

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP

torch.set_num_threads(1)
images = data.load("mnist", "train")
SECOND_MOMENT = float(images.x.pow(2).mean())  # what the training loop's match_input passes to the first layer
WIDTH, SEEDS, N = 300, 3, 256
# (activation, sparsity, depths); ReLU also at 117 / 173 / 284 layers: the depths of equal GP correlation to
# crelu at 40 / 60 / 100 (correlation_depth.txt)
POINTS = [("relu", None, (20, 40, 60, 100, 117, 173, 284)), ("crelu", 0.85, (20, 40, 60, 100)),
          ("cst", 0.85, (20, 40, 60, 100)), ("crelu", 0.9, (20, 100))]


def ntk(net: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, list[torch.Tensor]]:
    """(weight part, bias part) of the empirical NTK of logit 0 of a DeepMLP on images x, and its hidden
    pre-activations (the inputs of the layers' activations)."""
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
    inputs, outputs = [], []

    def record(module, args, out) -> None:
        inputs.append(args[0].detach())
        outputs.append(out)

    hooks = [lin.register_forward_hook(record) for lin in linears]
    logits = net(x)
    for hook in hooks:
        hook.remove()
    deltas = torch.autograd.grad(logits[:, 0].sum(), outputs)  # examples are independent: row i is ∂f_i/∂h^l_i
    weight = sum((d @ d.T) * (a @ a.T) for d, a in zip(deltas, inputs, strict=True))
    bias = sum(d @ d.T for d in deltas)
    return weight.double().numpy(), bias.double().numpy(), [h.detach() for h in outputs[:-1]]


def ntk_parts(eoc, depth: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(weight part, bias part) of the NTK of a freshly initialised network on N training images, float64."""
    torch.manual_seed(seed)
    net = DeepMLP(depth, WIDTH, eoc, 784, 10, input_second_moment=SECOND_MOMENT).double()
    return ntk(net, images.x[seed * N:(seed + 1) * N].flatten(1).double())[:2]


def stats(kernel: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """(mean-mode share, λ₁ share, speed) of one kernel."""
    trace = np.trace(kernel)
    ones = np.ones(len(kernel)) / np.sqrt(len(kernel))
    top = np.linalg.eigvalsh(kernel)[-1]
    speed = np.trace(labels.T @ kernel @ labels) / (top * np.sum(labels ** 2))
    return float(ones @ kernel @ ones / trace), float(top / trace), float(speed)


def main() -> None:
    print(__doc__.split("\n\n")[0])
    print(f"width {WIDTH}; {SEEDS} seeds x {N} MNIST training images; q* = 1, m = 1 for crelu/cst\n")
    print(f"{'activation':10s} {'s':>4s} {'depth':>5s} {'mean mode':>9s} {'λ₁/tr':>7s} {'speed':>9s} "
          f"{'bias share':>10s} {'speed w/o bias':>14s}")
    for name, s, depths in POINTS:
        eoc = sparseinit.edge_of_chaos(name) if s is None else sparseinit.edge_of_chaos(name, s, m=1.0)
        for depth in depths:
            rows = []
            for seed in range(SEEDS):
                weight, bias = ntk_parts(eoc, depth, seed)
                y = np.eye(10)[images.y[seed * N:(seed + 1) * N].numpy()]
                y = y - y.mean(axis=0)
                full = stats(weight + bias, y)
                rows.append((*full, np.trace(bias) / np.trace(weight + bias), stats(weight, y)[2]))
            mean_mode, top, speed, share, speed_w = np.mean(rows, axis=0)
            label = "-" if s is None else f"{s:.2f}"
            print(f"{name:10s} {label:>4s} {depth:5d} {mean_mode:9.4f} {top:7.4f} {speed:9.2e} {share:10.3f} "
                  f"{speed_w:14.2e}", flush=True)


if __name__ == "__main__":
    main()
