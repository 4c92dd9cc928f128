"""Which draw the --min-selective rule keeps, per crelu seed, before any training (min_selective_draws.txt)

For each seed, the initialisations the training loop would try under crelu_min_selective_seeds015.toml's rule
(redraw_closed = 3, min_selective = 0.1): draw k is the network `initial_model` builds with torch seeded by
seed + 1,000,003·k, measured as the loop measures it (`input_selectivity` on the first 5,000 of the 10,000 training
images): the input-selective fraction of its narrowest hidden layer, the read-out spread, and whether a layer is
closed. The rule keeps the first draw with no closed layer and a fraction >= 0.1; later draws are not built
("-"). Seeds 0-7 are the ones the threshold was picked on; seeds 8-15 are written down here before any of them is
trained, as the rule's next test.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_cnn/min_selective_draws.py > results/a_cnn/min_selective_draws.txt
"""

import torch

from sparseinit import input_selectivity
from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import initial_model, load_run_data

torch.set_num_threads(1)
SEEDS, DRAWS, MIN_SELECTIVE, PROBED = range(16), 4, 0.1, 5000
BASE = dict(dataset="fashion-mnist", model="cnn", depth=20, width=32, readout="flatten", train_subset=10_000,
            batch_size=32, epochs=20, lr=1e-2, activation="crelu", sparsity=0.85, m=1.0, q_star=1.0)


def main() -> None:
    device = torch.device("cpu")
    print(__doc__.split("\n\n")[0])
    print("crelu, s = 0.85, q* = 1, m = 1, 32 channels, depth 20, flatten read-out; per draw: narrowest layer's "
          f"selective fraction / read-out spread / closed layers, on the first {PROBED} training images\n")
    print(f"{'seed':>4s}  " + "  ".join(f"{'draw ' + str(k):>22s}" for k in range(DRAWS)) + "  kept")
    data = None
    for seed in SEEDS:
        config = TrainConfig(seed=seed, **BASE)
        data = data or load_run_data(config, device)  # only its pruning batch depends on the seed; unused here
        cells, kept = [], None
        for draw in range(DRAWS):
            if kept is not None:
                cells.append("-")
                continue
            found = input_selectivity(initial_model(config, data, draw, device), data.train[0][:PROBED])
            closed = ",".join(str(i + 1) for i in found.closed_layers) or "-"
            cells.append(f"{found.min_fraction:.3f} / {found.spread:.4f} / {closed:>3s}")
            if kept is None and not found.closed_layers and found.min_fraction >= MIN_SELECTIVE:
                kept = draw
        print(f"{seed:4d}  " + "  ".join(f"{c:>22s}" for c in cells) + f"  {kept if kept is not None else 'none'}",
              flush=True)


if __name__ == "__main__":
    main()
