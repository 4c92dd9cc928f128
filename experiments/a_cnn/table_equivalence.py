"""Are the runs of experiments/a_cnn/table.toml the runs the [A]-CNN table reports? (-> table_equivalence.txt)

The table of results/a_cnn/README.md ("Seeds 0–6 fixed in advance") was made by many small sweep files as seeds were
added; table.toml asks for the same 21 runs in one command. For each of its runs this finds the run folder (under
the given sweep folders) with the same config:

* ``same key``: the identical config, so the identical run;
* ``open at draw 0``: the same config but for ``redraw_closed`` (the folder's run predates the option, 0). The
  training loop redraws only while a hidden layer starts closed, so if the seed's own initialisation (draw 0) is
  open both configs train the same network. That is checked here: draw 0 is built as the loop builds it and probed
  on the same training inputs (``sparseinit.input_selectivity``, no layer may be closed).

Prints one line per run with the folder and its test accuracy, and exits 1 if a run is missing or differs.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/a_cnn/table_equivalence.py runs/a_cnn/*/ \\
        > results/a_cnn/table_equivalence.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import TRAIN_EVAL_SIZE, _opening, initial_model, load_run_data
from sparseinit.training.sweep import load_grid

TABLE = Path(__file__).with_name("table.toml")


def _identity(config: TrainConfig, redraw: int | None = None) -> str:
    if redraw is not None:
        config = dataclasses.replace(config, redraw_closed=redraw)
    return json.dumps(config.identity(), sort_keys=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", help="sweep folders whose run folders to search")
    args = parser.parse_args()
    found: dict[str, list[Path]] = {}
    for sweep in args.sweeps:
        for saved in sorted(Path(sweep).glob("*/config.json")):
            config = TrainConfig.from_dict(json.loads(saved.read_text())["config"], where=str(saved))
            found.setdefault(_identity(config), []).append(saved.parent)
    torch.set_grad_enabled(False)
    problems = 0
    print(f"{TABLE.name}: runs matched against {len(args.sweeps)} sweep folders\n")
    for config in load_grid(TABLE):
        name = f"{config.activation:5s} seed {config.seed}"
        how, folders = "same key", found.get(_identity(config), [])
        if not folders and config.redraw_closed:
            folders = found.get(_identity(config, 0), [])
            if folders:
                data = load_run_data(config, torch.device("cpu"))
                closed = _opening(config, initial_model(config, data, 0, torch.device("cpu")),
                                  data.train[0][:TRAIN_EVAL_SIZE])["init_closed_layers"]
                how = "open at draw 0" if not closed else f"DIFFERS: draw 0 closed at layers {closed}"
                problems += bool(closed)
        finished = [f for f in folders if (f / "summary.json").exists()]
        if not finished:
            print(f"{name}: MISSING" + (f" (unfinished: {folders[0]})" if folders else ""))
            problems += 1
            continue
        summary = json.loads((finished[0] / "summary.json").read_text())
        print(f"{name}: {how:15s} {summary['test_accuracy']:6.2f} %  {finished[0]}"
              + (f" (+{len(finished) - 1} copies)" if len(finished) > 1 else ""))
    print(f"\n{'all runs found' if not problems else f'{problems} runs missing or different'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
