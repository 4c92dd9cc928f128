"""A run's trained network, loaded back from its folder: evaluate it, or run it through :func:`accelerate`.

A run folder (``sparseinit train --out``, or one run of a sweep) holds ``config.json`` and, after every epoch,
``checkpoint.pt`` with the network's weights. :func:`load_run` rebuilds the network as the run built it (same
config, same initialisation draw, the same masks and offsets for a sparsified [C] model), loads the checkpoint's
weights and returns it in eval mode. For a finished run that did not diverge the checkpoint is the final network,
so :func:`evaluate_run` on the test split gives the ``test_accuracy`` and ``test_sparsity`` of its summary.json
(a diverged run's checkpoint is its last finished epoch).

With ``accelerate=True`` :func:`evaluate_run` also evaluates :func:`sparseinit.accelerate`'s inference copy, the
one that skips zero activations (SPEC §5), and reports how far its logits are from the dense network's and both
passes' wall time (measured once, one after the other: a rough figure; ``benchmarks/`` measures speed properly).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_choice, check_int, check_range
from ..acceleration import MODES
from . import distributed, run_dir
from .config import TrainConfig
from .loop import EVAL_BATCH, TRAIN_EVAL_SIZE, RunData, SparsityMeter, evaluate, initial_model, load_run_data

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TrainedRun:
    """A run folder's network (eval mode, weights of its last checkpoint), the run's config, the epochs those
    weights were trained for and the run's summary (``None`` while the run is unfinished)."""

    model: nn.Module
    config: TrainConfig
    epochs_trained: int
    summary: dict[str, Any] | None


def load_run(folder: str | Path, *, device: str = "cpu") -> TrainedRun:
    """Rebuild the network of the run in ``folder`` and load the weights of its last checkpoint.

    ``device``: ``cpu``, ``cuda`` or ``auto``. The run's dataset must be installed: the network's input shape,
    the inputs' second moment (``match_input``) and a saliency-pruned model's masks are built from it as in training.
    """
    return _load(folder, device)[0]


def evaluate_run(folder: str | Path, *, split: str = "test", accelerate: bool = False, device: str = "cpu",
                 batch_size: int = EVAL_BATCH, min_sparsity: float = 0.5, mode: str = "auto") -> dict[str, Any]:
    """Loss, accuracy (%) and activation sparsity (mean and per hidden layer) of a run's trained network on a split.

    ``split``: ``train`` (the first 5,000 training inputs, as the training loop measures them), ``val`` or
    ``test``. With ``accelerate=True`` the result also holds ``accelerated_accuracy``, ``max_logit_difference``
    (largest |accelerated − dense| over the split's logits), ``dense_seconds`` and ``accelerated_seconds`` for one
    pass each in chunks of ``batch_size`` (each after untimed warm-up calls), ``accelerated_loss``, ``batch_size``,
    ``accelerated_layers`` (layers :func:`sparseinit.accelerate` replaced) and ``kernel_layers`` (those of them
    that ran the sparse kernel on some chunk of that pass: in ``mode="auto"`` a layer takes it only where its
    measured break-even for that many rows is below the input's zero fraction, and only on CPU float32/64).
    ``min_sparsity`` ∈ [0, 1] and ``mode`` ("auto", "sparse": the kernel whatever it costs, "dense") are passed to
    :func:`sparseinit.accelerate`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    batch_size = check_int("batch_size", batch_size, 1)
    check_range("min_sparsity", min_sparsity, 0.0, 1.0, lo_open=False, hi_open=False)
    check_choice("mode", mode, MODES)
    run, data = _load(folder, device)
    x, y = getattr(data, split)
    if split == "train":
        x, y = x[:TRAIN_EVAL_SIZE], y[:TRAIN_EVAL_SIZE]
    if accelerate:
        from ..acceleration import accelerate as make_fast

        fast = make_fast(run.model, min_sparsity=min_sparsity, mode=mode)  # copied before the sparsity meter's hooks
    result = evaluate(run.model, SparsityMeter(run.model, x.device), x, y, distributed.Context(0, 1, x.device))
    run.model.eval()  # evaluate() leaves the model in training mode
    out: dict[str, Any] = {"folder": str(folder), "split": split, "examples": len(y),
                           "epochs_trained": run.epochs_trained, "accuracy": result["accuracy"],
                           "loss": result["loss"], "sparsity": result["sparsity"],
                           "layer_sparsity": result["layer_sparsity"]}
    if accelerate:
        from ..acceleration import SparseInputConv2d, SparseInputLinear, acceleration_plan

        dense_logits, dense_s = _timed_logits(run.model, x, batch_size)
        fast_logits, fast_s = _timed_logits(fast, x, batch_size)
        out.update(accelerated_accuracy=100.0 * float((fast_logits.argmax(1) == y).float().mean()),
                   accelerated_loss=float(F.cross_entropy(fast_logits, y)),
                   max_logit_difference=float((fast_logits - dense_logits).abs().max()),
                   accelerated_layers=sum(p.accelerated for p in acceleration_plan(fast)),
                   kernel_layers=sum(m.calls["sparse"] > 0 for m in fast.modules()
                                     if isinstance(m, SparseInputLinear | SparseInputConv2d)),
                   batch_size=batch_size, dense_seconds=dense_s, accelerated_seconds=fast_s)
    return out


@torch.no_grad()
def _timed_logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, float]:
    """Logits of every input in chunks of ``batch_size`` and the seconds they took, after untimed warm-up calls on
    a first and a last chunk: an accelerated layer's first call on a path loads that path's compiled kernel (~0.6 s
    for a 20-layer MLP, more than a pass over MNIST's test set), and a short last chunk may take another path."""
    model(x[:batch_size])
    if len(x) % batch_size:
        model(x[len(x) - len(x) % batch_size:])
    start = time.perf_counter()
    logits = torch.cat([model(chunk) for chunk in x.split(batch_size)])
    return logits, time.perf_counter() - start


def _load(folder: str | Path, device: str) -> tuple[TrainedRun, RunData]:
    folder = Path(folder)
    saved = folder / run_dir.CONFIG
    if not saved.is_file():
        what = "does not exist" if not folder.exists() else f"holds no {run_dir.CONFIG}"
        raise ValueError(f"run folder {folder} {what}: pass a folder written by sparseinit train or sweep")
    config = run_dir.read_config(folder)
    checkpoint = run_dir.load_checkpoint(folder)
    if checkpoint is None:
        summary = run_dir.read_summary(folder)
        if summary is not None and summary.get("epochs_done"):
            raise ValueError(f"run folder {folder} holds a run that finished {summary['epochs_done']} epoch(s) but "
                             f"its {run_dir.CHECKPOINT} is missing (moved or deleted?): no weights to load")
        if summary is not None:  # finished without a checkpoint: it diverged in its first epoch
            raise ValueError(f"run folder {folder} holds a run that ended ({summary.get('status')}) before its "
                             f"first epoch finished, so it has no weights to load ({run_dir.CHECKPOINT})")
        raise ValueError(f"run folder {folder} has no {run_dir.CHECKPOINT} yet: a run writes one after each "
                         f"finished epoch")
    dev = distributed.resolve_device(device)
    data = load_run_data(config, dev)
    opening = checkpoint.get("opening") or {}
    # rebuilding seeds torch: the caller's random stream is left as it was
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        model = initial_model(config, data, opening.get("init_redraws") or 0, dev)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:  # e.g. a checkpoint written by a version that built this config differently
        first = str(err).strip().splitlines()[0]
        raise ValueError(f"{folder / run_dir.CHECKPOINT} does not fit the network built for its config ({first})") \
            from None
    model.eval()
    return TrainedRun(model, config, checkpoint["epoch"], run_dir.read_summary(folder)), data
