"""A run's folder: config.json, metrics.jsonl, summary.json and checkpoint.pt, all written atomically.

A folder holds one run. Starting a run in a folder that holds another config, or a finished run, or files that
are not a run, is refused with a one-line error: nothing already written is overwritten. An unfinished run of the
same config continues from its last checkpoint with ``resume=True``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig

CONFIG, METRICS, SUMMARY, CHECKPOINT = "config.json", "metrics.jsonl", "summary.json", "checkpoint.pt"
ERROR = "error.txt"  # a sweep's record of an attempt that raised; the next attempt may start in the same folder


def atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, fsync it and rename it over ``path``: a reader (or a
    run killed at any moment) sees either the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; a run's files are ordinary files
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda fh: fh.write((json.dumps(data, indent=2) + "\n").encode()))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write(path, lambda fh: fh.write("".join(json.dumps(r) + "\n" for r in rows).encode()))


def save_checkpoint(folder: Path, state: dict) -> None:
    atomic_write(folder / CHECKPOINT, lambda fh: torch.save(state, fh))


def load_checkpoint(folder: Path) -> dict | None:
    path = folder / CHECKPOINT
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # unpickling, truncated zip, wrong file: all say the file is not a checkpoint
        first = (str(err).strip().splitlines() or [""])[0][:120]
        raise ValueError(f"{path} cannot be read as a checkpoint ({type(err).__name__}: {first}); move it away "
                         f"to start the run again from its first epoch") from None


def read_config(folder: Path) -> TrainConfig:
    """The TrainConfig a run folder was started with (its ``config.json``)."""
    saved = folder / CONFIG
    return TrainConfig.from_dict(read_json(saved, ("config",))["config"], where=str(saved))


def read_json(path: Path, keys: tuple[str, ...] = ()) -> Any:
    """``path``'s JSON, or a one-line ValueError naming the file (not JSON, or a mapping without ``keys``)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    missing = [k for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        raise ValueError(f"{path} is not a sparseinit run file: it lacks {missing[0]!r}")
    return data


def read_summary(folder: Path) -> dict | None:
    path = folder / SUMMARY
    return read_json(path) if path.exists() else None


def prepare(folder: Path, config: TrainConfig, resume: bool) -> str:
    """Check ``folder`` can take this run; returns ``new``, ``resume`` or ``finished`` (``finished`` only with
    ``resume=True``: the run is already complete and is not redone)."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output folder {folder} is a file")
    saved = folder / CONFIG
    if not saved.exists():
        if folder.exists() and any(p for p in folder.iterdir() if not p.name.startswith(".") and p.name != ERROR):
            raise ValueError(f"output folder {folder} holds files but no sparseinit run; choose another --out")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"cannot create output folder {folder}: {err.strerror}") from None
        write_json(saved, {"identity": config.identity(), "config": _public(config)})
        return "new"
    recorded = read_json(saved, ("identity",))
    old = {**recorded["identity"], **({"data_root": None} if "data_root" in recorded["identity"] else {})}
    new = config.identity()
    if old != new:
        diffs = [f"{k}: it has {old.get(k)!r}, this run {new.get(k)!r}" for k in sorted(set(old) | set(new))
                 if old.get(k) != new.get(k)]
        raise ValueError(f"output folder {folder} holds a different run ({'; '.join(diffs[:3])}); choose another --out")
    finished = (folder / SUMMARY).exists()
    if not resume:
        state = "a finished" if finished else "an unfinished"
        raise ValueError(f"output folder {folder} already holds {state} run of this config; "
                         f"pass --resume to {'keep it' if finished else 'continue it'} or choose another --out")
    if not finished and recorded.get("config") != _public(config):
        # same run, new where-it-runs options (device, data_root): record them for load_run / evaluate
        write_json(saved, {"identity": new, "config": _public(config)})
    return "finished" if finished else "resume"


def _public(config: TrainConfig) -> dict:
    import dataclasses

    return dataclasses.asdict(config)
