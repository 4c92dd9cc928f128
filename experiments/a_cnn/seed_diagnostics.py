"""Which crelu CNNs can train: each seed's initialisation as the training loop builds it (seed_diagnostics.txt)

At 32 channels crelu (s = 0.85) trained in seed 0 and sat at chance in seed 1, with the same recipe
(width32_flatten_batch32.toml, _seed1.toml). This builds, without training, the network each training run starts
from (sparseinit.training.loop.build_model after torch.manual_seed(seed), input second moment matched on the 10,000
training images) for seeds 0-9, also for cst at 32 channels (which trains in seeds 0 and 1,
width32_flatten_batch32_cst.toml, _seed1.toml), and measures on 64 of those images (pooled_signal.layer_statistics):
- min sel. / mean sel.: the fraction of a layer's channels that are input-selective (on the linear piece for some
  but not all image-positions), in the narrowest of the 20 layers / averaged over them;
- spread: how much the last layer's pre-activations differ between images at one position (what the flatten
  read-out sees);
- sparsity, q: the fraction of zeros of the hidden activations and the pre-activations' second moment, averaged over
  the layers (GP: 0.85 and q* = 1);
- closed: the layers (1-based) with no channel on a linear piece for any of the first 5,000 training images, as
  the training loop measures it (sparseinit.input_selectivity): the network's output ignores its input and no layer
  up to it gets a gradient; "-" for none.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_cnn/seed_diagnostics.py > results/a_cnn/seed_diagnostics.txt
"""

import torch
from pooled_signal import layer_statistics

from sparseinit import data, input_selectivity
from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import build_model

torch.set_num_threads(1)
SEEDS, IMAGES = range(10), 64
SETUPS = [("relu", 32), ("crelu", 32), ("crelu", 64), ("cst", 32)]


def main() -> None:
    train = data.load("fashion-mnist", "train")
    x = train.x[:10_000]
    second_moment = float(x.pow(2).mean())
    print(__doc__.split("\n\n")[0])
    print(f"DeepCNN depth 20, 3x3 'same' convolutions, read-out on every position; {IMAGES} Fashion-MNIST training "
          "images; crelu / cst at s = 0.85, q* = 1, m = 1\n")
    print(f"{'activation':10s} {'channels':>8s} {'seed':>4s} {'min sel.':>8s} {'mean sel.':>9s} {'spread':>8s} "
          f"{'sparsity':>8s} {'q':>5s} {'closed':>6s}")
    for activation, channels in SETUPS:
        options = {"sparsity": 0.85, "m": 1.0} if activation in ("crelu", "cst") else {}
        for seed in SEEDS:
            config = TrainConfig(dataset="fashion-mnist", model="cnn", depth=20, width=channels, readout="flatten",
                                 activation=activation, seed=seed, **options)
            torch.manual_seed(seed)  # as the training loop does before building its model
            net = build_model(config, train.shape, train.num_classes, second_moment)
            low, mean, spread, _, sparsity, q = layer_statistics(net, x[:IMAGES])
            closed = ",".join(str(i + 1) for i in input_selectivity(net, x[:5000]).closed_layers) or "-"
            print(f"{activation:10s} {channels:8d} {seed:4d} {low:8.3f} {mean:9.3f} {spread:8.4f} {sparsity:8.3f} "
                  f"{q:5.2f} {closed:>6s}", flush=True)


if __name__ == "__main__":
    main()
