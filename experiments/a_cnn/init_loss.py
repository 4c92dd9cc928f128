"""Initial loss of the [A]-CNN networks, before any training (results/a_cnn/init_loss.txt).

DeepCNN(depth 20, 16 channels) at the EoC point of each activation at s = 0.85 (q* = 1, m = 1 for crelu/cst), built
as the training loop builds it (first layer matched to the training images' mean square), five seeds, fed 128
Fashion-MNIST training images. The training loop calls a loss > 1e6 or a non-finite one a divergence.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_cnn/init_loss.py > results/a_cnn/init_loss.txt
"""

import warnings

import torch
import torch.nn.functional as F

import sparseinit
from sparseinit import data
from sparseinit.models import DeepCNN

warnings.simplefilter("ignore")  # overflow in the exploding networks is the point
torch.set_num_threads(1)
images = data.load("fashion-mnist", "train")
x, y = images.x[:128], images.y[:128]
second_moment = float(images.x[:10_000].pow(2).mean())  # the sweep trains on the first 10,000 images

print("# DeepCNN(20, 16 channels), s = 0.85, q* = 1, 128 Fashion-MNIST images: initial cross-entropy, seeds 0-4")
for activation in ["relu", "relu_tau", "st", "crelu", "cst"]:
    eoc = sparseinit.edge_of_chaos(activation, 0.85, **({"m": 1.0} if activation in ("crelu", "cst") else {}))
    losses = []
    for seed in range(5):
        torch.manual_seed(seed)
        net = DeepCNN(20, 16, eoc, 1, 10, input_second_moment=second_moment)
        with torch.no_grad():
            losses.append(float(F.cross_entropy(net(x), y)))
    print(f"{activation:9s}", "  ".join(f"{v:9.3g}" for v in losses))
