"""One line per run of sweep folders: recipe -> val accuracy per epoch, final test accuracy, sparsity, wall time.
.venv/bin/python experiments/recipe/summarise.py runs/recipe/r1_adam [more folders] [--md]
"""

import json
import sys
from pathlib import Path

md = "--md" in sys.argv
dirs = [a for a in sys.argv[1:] if a != "--md"]
head = [
    "sweep",
    "act",
    "s",
    "m",
    "q*",
    "clip",
    "in",
    "opt",
    "lr",
    "wu",
    "sched",
    "gclip",
    "bs",
    "depth",
    "width",
    "n",
    "val acc per epoch",
    "test",
    "sp train/test",
    "status",
    "wall s",
]
if md:
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
for d in dirs:
    for run in sorted(Path(d).iterdir()):
        cfg_file = run / "config.json"
        if not cfg_file.exists():
            continue
        cfg = json.loads(cfg_file.read_text())
        cfg = cfg.get("config", cfg)
        rows = (
            [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            if (run / "metrics.jsonl").exists()
            else []
        )
        summ = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
        m = summ.get("m", cfg.get("m"))
        vals = " ".join(f"{r['val_accuracy']:.1f}" for r in rows)
        last = rows[-1] if rows else {}
        test = summ.get("test_accuracy", last.get("test_accuracy"))
        sp = (
            summ.get("train_sparsity", last.get("train_sparsity")),
            summ.get("test_sparsity", last.get("test_sparsity")),
        )
        cells = [
            Path(d).name,
            cfg["activation"],
            f"{cfg['sparsity']:g}" if cfg.get("sparsity") else "-",
            f"{m:.3g}" if isinstance(m, float) else "-",
            f"{cfg['q_star']:g}",
            cfg.get("clip", "-")[:3],
            f"{cfg.get('input_scale', 1):g}",
            cfg["optimizer"],
            f"{cfg['lr']:g}",
            str(cfg["warmup_steps"]),
            cfg["schedule"][:3],
            str(cfg["grad_clip"]),
            str(cfg["batch_size"]),
            str(cfg["depth"]),
            str(cfg["width"]),
            str(cfg["train_subset"] or "50k"),
            vals,
            "-" if test is None else f"{test:.2f}",
            "-" if sp[0] is None else f"{sp[0]:.3f}/{sp[1]:.3f}",
            summ.get("status", "running"),
            str(summ.get("wall_time_s", "-")),
        ]
        print(("| " + " | ".join(cells) + " |") if md else "  ".join(cells))
