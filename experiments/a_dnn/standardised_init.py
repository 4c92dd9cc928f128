"""Why not normalise the depth-100 network at initialisation? (results/a_dnn/standardised_init.txt)

crelu / cst at depth 100 train slowly because the inputs reach the deep layers almost identical: a unit carries
the input only if the batch falls on both sides of τ, and in the narrowest layer 2 of 300 units do
(README, "What stops crelu at depth 100"). The obvious data-dependent fix, in the manner of LSUV, is to
standardise every hidden unit on a batch of training images before training: layer by layer, scale the unit's
weights and shift its bias so that its pre-activation has mean 0 and variance q* *across the images*. Then τ sits
at the s-quantile of every unit and every unit is input-selective. This script measures what that does, without
and with a short training, on DeepMLP(depth 100, width 300) built as the training loop builds it, seed 0,
s = 0.85, q* = 1, m = 1:

- at initialisation (1,000 MNIST training images): the zero fraction at layers 1 / 50 / 100, the selective
  fraction of the narrowest layer (`sparseinit.input_selectivity`), the spread of the logits across images, and the
  gradient norm of the cross-entropy on one batch of 128 (first hidden layer, and all layers);
- 300 steps of SGD (momentum 0.9, lr 3e-3 constant, gradient-norm clip 1, batch 128, as the lr 3e-3 runs): the
  mean training loss over the last 50 steps and the accuracy on 1,000 held-out training images.

The standardisation is the experiment's own code, not part of the library.

Run (~5 min):
    OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/standardised_init.py > results/a_dnn/standardised_init.txt
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

import sparseinit
from sparseinit import data
from sparseinit.models import DeepMLP

torch.set_num_threads(1)
images = data.load("mnist", "train")
x_all, y_all = images.x.flatten(1), images.y
SECOND_MOMENT = float(images.x.pow(2).mean())  # what the training loop's match_input passes to the first layer
DEPTH, WIDTH, SEED, STEPS, BATCH, LR = 100, 300, 0, 300, 128, 3e-3
fit_x = x_all[:2048]                                    # the batch the standardisation is computed on
probe_x, probe_y = x_all[2048:3048], y_all[2048:3048]    # measured at init, and accuracy after training
ACTIVATIONS = (("relu", None), ("crelu", 0.85), ("cst", 0.85))


@torch.no_grad()
def standardise_(net: DeepMLP, x: torch.Tensor, q_star: float) -> None:
    """Every hidden Linear, in order: pre-activation → mean 0, variance q* across the rows of ``x``, per unit."""
    hidden = [m for m in net.layers if isinstance(m, nn.Linear)][:-1]  # not the read-out
    h = x
    for module in net.layers:
        if module in hidden:
            pre = module(h)
            gain = math.sqrt(q_star) / pre.std(dim=0).clamp_min(1e-12)
            module.bias.copy_((module.bias - pre.mean(dim=0)) * gain)
            module.weight.mul_(gain[:, None])
        h = module(h)


def build(name: str, sparsity: float | None, standardised: bool) -> DeepMLP:
    eoc = sparseinit.edge_of_chaos(name, sparsity=sparsity)
    torch.manual_seed(SEED)
    net = DeepMLP(DEPTH, WIDTH, eoc, 784, 10, input_second_moment=SECOND_MOMENT)
    if standardised:
        standardise_(net, fit_x, eoc.q_star)
    return net


def at_init(net: DeepMLP) -> dict[str, float]:
    zeros, h, layer = {}, probe_x, 0
    with torch.no_grad():
        for module in net.layers:
            h = module(h)
            if not isinstance(module, (nn.Linear, nn.Flatten)):
                layer += 1
                if layer in (1, 50, 100):
                    zeros[layer] = float((h == 0).float().mean())
        spread = float(h.std(dim=0).mean())
    selective = sparseinit.input_selectivity(net, probe_x).min_fraction
    F.cross_entropy(net(x_all[:BATCH]), y_all[:BATCH]).backward()
    grads = [m.weight.grad.double().norm() for m in net.layers if isinstance(m, nn.Linear)]
    net.zero_grad()
    return {"zeros": zeros, "selective": selective, "spread": spread, "grad_first": float(grads[0]),
            "grad_all": float(torch.stack(grads).norm())}


def short_training(net: DeepMLP) -> tuple[float, float]:
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    order = torch.randperm(len(y_all) - 3048, generator=torch.Generator().manual_seed(SEED)) + 3048
    losses = []
    for step in range(STEPS):
        pick = order[step * BATCH:(step + 1) * BATCH]
        loss = F.cross_entropy(net(x_all[pick]), y_all[pick])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = float((net(probe_x).argmax(1) == probe_y).float().mean()) * 100
    return sum(losses[-50:]) / 50, accuracy


print(__doc__.splitlines()[0])
print(f"MLP depth {DEPTH}, width {WIDTH}, seed {SEED}, s = 0.85 (relu: 0.5), q* = 1, m = 1; "
      f"{STEPS} SGD steps at lr {LR:g}\n")
print("activation  init          zeros@1  zeros@50  zeros@100  narrowest selective  logit spread  "
      "|grad| first layer  |grad| all  loss (last 50 steps)  accuracy %")
for name, sparsity in ACTIVATIONS:
    for standardised in (False, True):
        net = build(name, sparsity, standardised)
        m = at_init(net)
        loss, accuracy = short_training(net)
        z = m["zeros"]
        print(f"{name:<10}  {'standardised' if standardised else 'EoC':<12}  {z[1]:7.3f}  {z[50]:8.3f}  "
              f"{z[100]:9.3f}  {m['selective']:19.3f}  {m['spread']:12.4f}  {m['grad_first']:18.3g}  "
              f"{m['grad_all']:10.3g}  {loss:20.4f}  {accuracy:10.1f}", flush=True)
