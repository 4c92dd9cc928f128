"""Does the denormal flush explain why a re-run differs? (results/a_dnn/README.md, "30 epochs: three seeds ...")

ReLU at depth 30 on the 30-epoch budget, seed 0, gave 97.64 % test accuracy on 2026-11-29 and 97.60 % when run again
on 2026-12-01 (`budget30_relu_depth30_seeds01.toml`); seed 1 97.57 % and 97.75 %. In between, `train()` began to
flush denormal floats to zero on the CPU (commit 1d6227b), which changes the arithmetic wherever a value gets
that small. This trains the same config with the flush disabled, as the code of 2026-11-29 did, and prints its
test accuracy next to both.

Run (~10 min on one core):
    .venv/bin/python experiments/a_dnn/denormal_flush_rerun.py > results/a_dnn/denormal_flush_rerun.txt
"""

import sys
from pathlib import Path

import torch

from sparseinit.training.loop import train
from sparseinit.training.sweep import load_grid

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
BEFORE = {0: 97.64, 1: 97.57}  # results/a_dnn/budget30/table.md of commits c99f142 / 6c200fd
AGAIN = {0: 97.60, 1: 97.75}  # runs/a_dnn_budget30/relu_depth30_seeds01 (flush on)

if __name__ == "__main__":
    torch.set_num_threads(1)
    torch.set_flush_denormal = lambda on: True  # train() calls it; without effect here, denormals stay
    config = next(c for c in load_grid("experiments/a_dnn/budget30_relu_depth30_seeds01.toml") if c.seed == SEED)
    out = Path(f"runs/a_dnn_budget30/relu_depth30_noflush_seed{SEED}")
    summary = train(config, out=out, resume=True, progress=False)
    print(f"ReLU, depth 30, width 300, 30 epochs, seed {SEED}: test accuracy")
    print(f"  2026-11-29 (no flush existed):       {BEFORE[SEED]:.2f} %")
    print(f"  2026-12-01, denormals flushed:        {AGAIN[SEED]:.2f} %")
    accuracy, seconds = summary["test_accuracy"], summary["wall_time_s"]
    print(f"  2026-12-01, flush disabled (this run): {accuracy:.2f} %  ({seconds:.0f} s)")
