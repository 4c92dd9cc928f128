"""The training loop: one run from a :class:`TrainConfig` to ``summary.json`` ([A] §4 protocol).

Per epoch it records loss, train/val/test accuracy and per-layer activation sparsity (the fraction of exact zeros
at each hidden activation's output) on a fixed train subset and on the test set, checkpoints atomically, and
rewrites ``metrics.jsonl`` from the checkpoint's history, so a run killed at any moment resumes from its last
epoch and ends with the same numbers. The data order of epoch e depends only on (seed, e). A non-finite loss ends
the run with status ``diverged`` — a result, not a crash.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import data as datasets
from ..initialisation import weight_layers
from ..layers import keep_masks, masked_layers
from ..models import DeepCNN, DeepMLP, hidden_activations
from ..pruning import RigL, density_report, sparsify
from ..selectivity import input_selectivity
from ..zoo import zoo_model
from . import distributed, run_dir
from .config import EOC_MODELS, TrainConfig

TRAIN_EVAL_SIZE = 5000  # training examples re-evaluated each epoch for train accuracy and sparsity
EVAL_BATCH = 256  # an image model on the CPU evaluates 1.3-1.6x faster per example in batches of 256 than of 1000
EXPLODED_LOSS = 1e6  # a training-batch loss above this means logits of order 1e6: the activations have exploded
REDRAW_SEED_STEP = 1_000_003  # redraw k of a closed initialisation seeds torch with seed + k · this


def build_model(config: TrainConfig, shape: tuple[int, ...], num_classes: int,
                input_second_moment: float | None, prune_batch: tuple[torch.Tensor, torch.Tensor] | None = None,
                ) -> nn.Module:
    """The network ``config.model`` for inputs of ``shape``: [A]'s mlp/cnn initialised at the config's EoC point,
    or a [C] model; with ``config.density``, sparsified (``prune_batch`` feeds the saliency methods)."""
    model = dense_network(config, shape, num_classes, input_second_moment)
    if config.density is not None:
        sparsify(model, config.density, offset=None if config.offset == "none" else config.offset,
                 budget=config.budget, method=config.prune_method, data=prune_batch, seed=config.seed,
                 keep_first=config.keep_first, keep_last=config.keep_last, input_shape=shape)
    return model


def dense_network(config: TrainConfig, shape: tuple[int, ...], num_classes: int,
                  input_second_moment: float | None) -> nn.Module:
    """``config.model`` before any weight sparsity; raises ValueError for inputs the model cannot take."""
    if config.model == "mlp":
        model = DeepMLP(config.depth, config.width, config.eoc(), math.prod(shape), num_classes,
                        input_second_moment=input_second_moment, logit_scale=config.logit_scale)
    elif config.model == "cnn":
        model = DeepCNN(config.depth, config.width, config.eoc(), shape[0], num_classes, config.kernel_size,
                        input_second_moment=input_second_moment, readout=config.readout, image_size=shape[-1],
                        logit_scale=config.logit_scale)
    else:
        options: dict[str, Any] = {"in_channels": shape[0], "num_classes": num_classes, "image_size": shape[-1]}
        if config.model.startswith(("vgg", "resnet")):
            options["width"] = config.width_multiplier
        model = zoo_model(config.model, **options)
    return model


class SparsityMeter:
    """Counts exact zeros at each hidden activation's output while enabled (forward hooks). Counts stay on the
    model's device (no synchronisation per layer); ``per_layer`` reads them."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.layers = hidden_activations(model)
        self.device = device
        self.enabled = False
        self.reset()
        for index, layer in enumerate(self.layers):
            layer.register_forward_hook(lambda mod, inp, out, i=index: self._count(i, out))

    def reset(self) -> None:
        self.zeros = torch.zeros(len(self.layers), dtype=torch.float64, device=self.device)
        self.total = torch.zeros(len(self.layers), dtype=torch.float64, device=self.device)

    def _count(self, index: int, out: torch.Tensor) -> None:
        if self.enabled:
            self.zeros[index] += (out == 0).sum()
            self.total[index] += out.numel()

    def per_layer(self) -> list[float]:
        return (self.zeros / self.total.clamp(min=1)).tolist()


def lr_at(config: TrainConfig, step: int, total: int) -> float:
    """Learning rate at ``step``: linear warm-up, then constant or cosine decay to ``min_lr`` at ``total``.

    Cosine: lr_t = min_lr + (lr - min_lr) (1 + cos(pi p)) / 2, p the fraction of the post-warm-up steps done
    (SGDR's annealing, Loshchilov & Hutter 2017, without restarts).
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "cosine":
        progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
        return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr


def _param_groups(config: TrainConfig, model: nn.Module) -> list[dict[str, Any]]:
    """The optimizer's parameter groups, each with its ``lr_scale`` (× the scheduled lr): biases ×
    ``bias_lr_scale``, the first weight layer's weight × ``first_layer_lr_scale``; one group when both are 1."""
    first = next((layer.weight for layer in weight_layers(model)), None)
    groups: dict[float, list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        scale = config.bias_lr_scale if name.endswith("bias") else 1.0
        if param is first:
            scale *= config.first_layer_lr_scale
        groups.setdefault(scale, []).append(param)
    return [{"params": params, "lr": config.lr * scale, "lr_scale": scale} for scale, params in groups.items()]


def _optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    groups = _param_groups(config, model)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, meter: SparsityMeter, x: torch.Tensor, y: torch.Tensor,
             ctx: distributed.Context) -> dict[str, Any]:
    """Loss, accuracy (%) and per-layer sparsity on (x, y), sharded across processes."""
    model.eval()
    meter.reset()
    meter.enabled = True
    sums = torch.zeros(3, dtype=torch.float64)  # loss, correct, count
    for idx in ctx.shard(torch.arange(len(y), device=y.device)).split(EVAL_BATCH):
        xb, yb = x[idx], y[idx]
        logits = model(xb)
        sums += torch.tensor([F.cross_entropy(logits, yb, reduction="sum").item(),
                              (logits.argmax(1) == yb).sum().item(), len(idx)], dtype=torch.float64)
    meter.enabled = False
    ctx.sum_(sums)
    ctx.sum_(meter.zeros)
    ctx.sum_(meter.total)
    model.train()
    layers = meter.per_layer()
    return {"loss": sums[0].item() / sums[2].item(), "accuracy": 100.0 * sums[1].item() / sums[2].item(),
            "sparsity": sum(layers) / max(1, len(layers)), "layer_sparsity": layers}


def train(config: TrainConfig | dict[str, Any] | None = None, *, out: str | Path, resume: bool = False,
          progress: bool = True, **options: Any) -> dict[str, Any]:
    """Train one run into folder ``out``; returns its summary (also written to ``out/summary.json``).

    ``options`` override fields of ``config`` (a TrainConfig, a dict of its options, or the defaults):
    ``train(out="runs/a", activation="crelu", sparsity=0.85, epochs=3)``. With ``resume=True`` an unfinished run in
    ``out`` continues from its last checkpoint and a finished one is returned as it is; given neither ``config`` nor
    ``options``, it resumes with the configuration saved in ``out/config.json``. On the CPU the run flushes
    denormal floats to zero (``torch.set_flush_denormal``) while it trains, and restores the default afterwards,
    and an image model and its data are kept in channels-last memory format (faster convolutions, same network).
    """
    if resume and config is None and not options and (Path(out) / run_dir.CONFIG).is_file():
        config = run_dir.read_config(Path(out))
    config = _config_of(config, options)
    config = config.normalised()  # what the run ignores is not recorded as if it mattered
    folder = Path(out)
    created = not folder.exists()
    ctx = distributed.setup(config.device)
    try:
        state = None
        if ctx.main:
            try:
                state = run_dir.prepare(folder, config, resume)
            except ValueError as err:  # the other processes stop with the same one-line error, not a lost peer
                _broadcast(("error", str(err)), ctx)
                raise
        state = _broadcast(state, ctx)
        if isinstance(state, tuple):
            raise ValueError(state[1])
        if state == "finished":
            return run_dir.read_summary(folder)
        # Once the training loss is ~1e-4, gradients deep in a 100-layer network fall below float32's smallest
        # normal number, and CPU arithmetic on such denormals is slow: flushing them to zero made late-training
        # steps of a depth-100 ReLU MLP 2.6x faster. Values below 1.2e-38 change no weight.
        flush = ctx.device.type == "cpu" and torch.set_flush_denormal(True)
        try:
            return _run(config, folder, ctx, progress and ctx.main)
        except BaseException:
            if ctx.main and state == "new" and not (folder / run_dir.CHECKPOINT).exists():
                _unclaim(folder, created)
            raise
        finally:
            if flush:
                torch.set_flush_denormal(False)  # the process default
    finally:
        distributed.teardown()


def _config_of(config: TrainConfig | dict[str, Any] | None, options: dict[str, Any]) -> TrainConfig:
    """``config`` (a TrainConfig, a dict of its options, or None for the defaults) with ``options`` on top."""
    if isinstance(config, dict):
        config, options = None, {**config, **options}
    elif config is not None and not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig or a dict of its options, got {type(config).__name__}")
    values = {**(dataclasses.asdict(config) if config is not None else {}), **options}
    return TrainConfig.from_dict(values, "train()") if options else (config or TrainConfig())


def _unclaim(folder: Path, created: bool) -> None:
    """Undo what a new run wrote before it failed without a checkpoint (bad data path, an option that does not
    fit the data): the folder takes the corrected run instead of holding a config that nothing trained."""
    for name in (run_dir.CONFIG, run_dir.METRICS):
        (folder / name).unlink(missing_ok=True)
    if created and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _broadcast(value: Any, ctx: distributed.Context) -> Any:
    if ctx.world == 1:
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


@dataclasses.dataclass(frozen=True)
class RunData:
    """A run's data as its training loop sees it: the (subset, scaled) splits on the run's device, the input shape,
    the number of classes, the inputs' second moment (``match_input``) and the batch the saliency pruning reads."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    shape: tuple[int, ...]
    num_classes: int
    second_moment: float | None
    prune_batch: tuple[torch.Tensor, torch.Tensor]


def load_run_data(config: TrainConfig, device: torch.device) -> RunData:
    """Load ``config.dataset``'s splits as a run of ``config`` trains and evaluates on them."""
    train_set = datasets.load(config.dataset, "train", config.data_root)
    val_set = datasets.load(config.dataset, "val", config.data_root)
    test_set = datasets.load(config.dataset, "test", config.data_root)
    x_train, y_train = train_set.x, train_set.y
    if config.train_subset is not None and config.train_subset > len(y_train):
        raise ValueError(f"train_subset must be at most {config.dataset}'s {len(y_train)} training examples, "
                         f"got {config.train_subset}")
    if config.train_subset is not None:
        x_train, y_train = x_train[:config.train_subset], y_train[:config.train_subset]
    scale, dev = config.input_scale, device
    x_train, x_val, x_test = (x_train * scale).to(dev), (val_set.x * scale).to(dev), (test_set.x * scale).to(dev)
    y_train, y_val, y_test = y_train.to(device), val_set.y.to(device), test_set.y.to(device)
    if _channels_last(x_train, device):
        x_train, x_val, x_test = (x.contiguous(memory_format=torch.channels_last) for x in (x_train, x_val, x_test))
    if not bool(torch.isfinite(x_train).all() and torch.isfinite(x_train.pow(2).mean())):
        raise ValueError(f"input_scale {scale:g} makes {config.dataset}'s inputs overflow float32 (their second "
                         f"moment is not finite); choose a smaller input_scale")
    second_moment = float(x_train.pow(2).mean()) if config.match_input else None
    pick = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(config.seed))[:config.batch_size]
    prune_batch = (x_train[pick.to(device)].cpu(), y_train[pick.to(device)].cpu())
    return RunData((x_train, y_train), (x_val, y_val), (x_test, y_test), train_set.shape, train_set.num_classes,
                   second_moment, prune_batch)


def initial_model(config: TrainConfig, data: RunData, draw: int, device: torch.device) -> nn.Module:
    """Draw ``draw`` of the run's initial network (0: the seed itself; k: a redraw of a closed one)."""
    torch.manual_seed(config.seed + REDRAW_SEED_STEP * draw)
    model = build_model(config, data.shape, data.num_classes, data.second_moment, data.prune_batch).to(device)
    if _channels_last(data.train[0], device):
        model = model.to(memory_format=torch.channels_last)
    return model


def _channels_last(x: torch.Tensor, device: torch.device) -> bool:
    """Whether a run trains in channels-last memory format: image batches on the CPU, where oneDNN's convolutions
    run 1.6x faster per training step and per evaluated example than in NCHW (benchmarks/channels_last.py).
    The same network either way: only the order in which the floats are stored, and so their rounding, changes."""
    return device.type == "cpu" and x.dim() == 4


def _run(config: TrainConfig, folder: Path, ctx: distributed.Context, show: bool) -> dict[str, Any]:
    start_time = time.perf_counter()
    data = load_run_data(config, ctx.device)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data.train, data.val, data.test
    eval_train = (x_train[:TRAIN_EVAL_SIZE], y_train[:TRAIN_EVAL_SIZE])
    checkpoint = run_dir.load_checkpoint(folder)

    def build(draw: int) -> nn.Module:
        return initial_model(config, data, draw, ctx.device)

    # the initial network, drawn again while a layer starts closed or, with --min-selective, nearly closed
    # (--redraw-closed); a resumed run rebuilds the draw its checkpoint names, the probe decided on one process and
    # sent to the others
    model, opening = None, checkpoint.get("opening") if checkpoint is not None else None
    if opening is None and ctx.main:
        for draw in range(config.redraw_closed + 1):
            model = build(draw)
            opening = {**_opening(config, model, eval_train[0]), "init_redraws": draw}
            if not _too_closed(opening, config.min_selective):
                break
        if config.model not in EOC_MODELS:
            opening["init_redraws"] = None
        _warn_closed(opening, len(eval_train[0]), config.min_selective)
    opening = _broadcast(opening, ctx)
    if model is None:
        model = build(opening["init_redraws"] or 0)
    optimizer = _optimizer(config, model)
    if masked_layers(model):
        keep_masks(optimizer, model)  # masked weights stay exactly zero through momentum / Adam / weight decay
    params = [p for p in model.parameters() if p.requires_grad]
    meter = SparsityMeter(model, ctx.device)
    steps_per_epoch = math.ceil(len(y_train) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    for name, every in (("warmup_steps", config.warmup_steps), ("rigl_every", config.rigl_every if config.rigl else 0)):
        if every > total_steps:
            raise ValueError(f"{name} must be at most the run's {total_steps} optimizer steps ({config.epochs} "
                             f"epochs × {steps_per_epoch}), got {every}")
    history: list[dict] = []
    first_epoch, step, elapsed = 0, 0, 0.0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        first_epoch, step, elapsed, history = (checkpoint["epoch"], checkpoint["step"], checkpoint["elapsed"],
                                               checkpoint["history"])
        if ctx.main:
            run_dir.write_jsonl(folder / run_dir.METRICS, history)
    rigl = None
    if config.rigl:
        rigl = RigL(model, total_steps, update_every=config.rigl_every, drop_fraction=config.rigl_drop,
                    stop_fraction=config.rigl_stop, optimizer=optimizer,
                    reduce_grad=ctx.sum_ if ctx.world > 1 else None)

    status, reason = "ok", None
    for epoch in range(first_epoch, config.epochs):
        order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
        bar = tqdm(order.split(config.batch_size), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not show, leave=False, dynamic_ncols=True)
        running_loss, running_correct, seen = 0.0, 0.0, 0
        meter.reset()
        meter.enabled = show  # live sparsity only where someone watches
        for batch in bar:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(config, step, total_steps) * group.get("lr_scale", 1.0)
            idx = ctx.shard(batch).to(ctx.device)
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, reduction="sum") / len(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            ctx.sum_grads_(params)
            stats = ctx.sum_(torch.tensor([loss.item(), (logits.argmax(1) == yb).sum().item()], dtype=torch.float64))
            batch_loss = stats[0].item()
            if not math.isfinite(batch_loss) or batch_loss > EXPLODED_LOSS:
                status = "diverged"
                reason = ("non-finite loss" if not math.isfinite(batch_loss) else
                          f"loss {batch_loss:.3g} > {EXPLODED_LOSS:g} (exploding activations)")
                break
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            step += 1
            if rigl is not None:
                rigl.step(step)
            running_loss += stats[0].item() * len(batch)
            running_correct += stats[1].item()
            seen += len(batch)
            if show and step % 10 == 0:
                layers = meter.per_layer()
                bar.set_postfix(loss=f"{running_loss / seen:.4f}", acc=f"{100 * running_correct / seen:.1f}",
                                sparsity=f"{sum(layers) / max(1, len(layers)):.3f}")
        meter.enabled = False
        if status == "diverged":
            if show:
                tqdm.write(f"run diverged at epoch {epoch + 1}, step {step}: {reason}; status 'diverged'")
            break
        row = {"epoch": epoch + 1, "step": step, "lr": lr_at(config, step - 1, total_steps),
               "loss": running_loss / max(1, seen), **_evaluations(model, meter, eval_train, (x_val, y_val),
                                                                    (x_test, y_test), ctx)}
        history.append(row)
        elapsed_now = elapsed + time.perf_counter() - start_time
        if ctx.main:
            run_dir.save_checkpoint(folder, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                             "epoch": epoch + 1, "step": step, "elapsed": elapsed_now,
                                             "history": history, "opening": opening})
            run_dir.write_jsonl(folder / run_dir.METRICS, history)
            if show:
                tqdm.write(f"epoch {epoch + 1}: loss {row['loss']:.4f}  val {row['val_accuracy']:.2f}%  "
                           f"test {row['test_accuracy']:.2f}%  sparsity train {row['train_sparsity']:.3f} "
                           f"test {row['test_sparsity']:.3f}")
        ctx.barrier()

    final = _evaluations(model, meter, eval_train, (x_val, y_val), (x_test, y_test), ctx)
    summary = _summary(config, status, final, history, elapsed + time.perf_counter() - start_time, ctx)
    summary["diverged_reason"] = reason
    # optimizer steps taken before the failing batch: 0 means the initialised network itself explodes
    summary["diverged_step"] = step if status == "diverged" else None
    summary.update({k: v for k, v in opening.items() if k != "init_layers"})
    weights = density_report(model)
    summary.update(trainable_density=weights.density, trainable_weights=weights.nnz, stored_bytes=weights.stored_bytes,
                   dense_bytes=weights.dense_bytes)
    if ctx.main:
        run_dir.write_json(folder / run_dir.SUMMARY, summary)
    return summary


def _opening(config: TrainConfig, model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """Input selectivity of the initialised [A] network on the training inputs ``x`` (summary keys ``init_*``)."""
    if config.model not in EOC_MODELS:
        return {"init_min_selective": None, "init_closed_layers": None, "init_layers": None}
    found = input_selectivity(model, x)
    return {"init_min_selective": found.min_fraction,
            "init_closed_layers": [i + 1 for i in found.closed_layers],  # 1-based, as the README names layers
            "init_layers": len(found.count)}


def _too_closed(opening: dict[str, Any], min_selective: float) -> bool:
    """Whether an initialisation gets redrawn: a hidden layer closed, or its narrowest layer's input-selective
    fraction below ``min_selective`` (never for models that are not measured)."""
    if opening["init_closed_layers"] is None:
        return False
    return bool(opening["init_closed_layers"]) or opening["init_min_selective"] < min_selective


def _warn_closed(opening: dict[str, Any], probed: int, min_selective: float = 0.0) -> None:
    """One line on stderr for a redrawn, a closed or (with ``min_selective``) a nearly closed initialisation."""
    closed, redraws = opening["init_closed_layers"], opening["init_redraws"]
    rule = "a closed hidden layer" + (f" or under {min_selective:g} of a layer's units input-selective"
                                      if min_selective else "")
    if redraws:
        tqdm.write(f"note: the initialisation started with {rule} and was redrawn {redraws} time(s)"
                   + ("" if _too_closed(opening, min_selective) else "; the one used is open"), file=sys.stderr)
    if not closed and closed is not None and opening["init_min_selective"] < min_selective:
        tqdm.write(f"warning: out of redraws, the initialisation used has only {opening['init_min_selective']:.3g} "
                   f"of its narrowest hidden layer's units input-selective (min_selective {min_selective:g}) on "
                   f"the {probed} training inputs probed", file=sys.stderr)
    if closed:
        which = f"layer {closed[0]} of {opening['init_layers']} has" if len(closed) == 1 else \
            f"layers {', '.join(map(str, closed))} of {opening['init_layers']} have"
        tqdm.write(f"warning: at initialisation hidden {which} no unit on a linear "
                   f"piece for any of the {probed} training inputs probed: no gradient from them reaches layers "
                   f"1-{closed[-1]}, so this run will likely stay at chance; try --redraw-closed N, another seed or "
                   f"a wider network", file=sys.stderr)


def _evaluations(model, meter, train, val, test, ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (x, y) in (("train", train), ("val", val), ("test", test)):
        result = evaluate(model, meter, x, y, ctx)
        out[f"{name}_accuracy"] = result["accuracy"]
        out[f"{name}_loss"] = result["loss"]
        if name != "val":
            out[f"{name}_sparsity"] = result["sparsity"]
            out[f"{name}_layer_sparsity"] = result["layer_sparsity"]
    return out


def _summary(config: TrainConfig, status: str, final: dict, history: list[dict], wall: float,
             ctx: distributed.Context) -> dict[str, Any]:
    eoc = config.eoc()
    if config.model not in EOC_MODELS:  # [C]'s models are not initialised on the Edge of Chaos
        eoc = dataclasses.replace(eoc, **dict.fromkeys(("tau", "sigma_w2", "sigma_b2", "slope"), None))
    sparse = {"density": config.density, "offset": config.offset, "budget": config.budget,
              "prune_method": config.prune_method, "rigl": config.rigl} if config.density is not None else {
              "density": None}
    return {
        "dataset": config.dataset, "model": config.model, "depth": config.depth, "width": config.width,
        "width_multiplier": config.width_multiplier, **sparse,
        "activation": config.activation, "sparsity": eoc.sparsity, "m": eoc.m, "slope": eoc.slope,
        "q_star": config.q_star, "clip": config.clip, "tau": eoc.tau, "sigma_w2": eoc.sigma_w2,
        "sigma_b2": eoc.sigma_b2, "optimizer": config.optimizer, "lr": config.lr, "schedule": config.schedule,
        "min_lr": config.min_lr,
        "batch_size": config.batch_size, "epochs": config.epochs, "epochs_done": len(history), "seed": config.seed,
        "status": status, "test_accuracy": final["test_accuracy"], "val_accuracy": final["val_accuracy"],
        "train_accuracy": final["train_accuracy"], "best_val_accuracy": max((h["val_accuracy"] for h in history),
                                                                             default=final["val_accuracy"]),
        "train_sparsity": final["train_sparsity"], "test_sparsity": final["test_sparsity"],
        "wall_time_s": round(wall, 2), "processes": ctx.world, "device": str(ctx.device), "key": config.key(),
    }
