"""One training run's options: a validated, immutable config that the CLI, sweeps and Python share.

Every field has a type, a default and a help line (``FIELDS``); the command line's options and a sweep file's
valid keys are generated from it, so a typo'd key or a non-numeric value is caught in one place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
from dataclasses import dataclass, field
from typing import Any

from .._validate import MAX_SEED, check_choice, check_int, check_range
from ..data import DATASETS
from ..eoc import CLIP_MODES, EdgeOfChaos
from ..models import READOUTS
from ..pruning.budgets import BUDGETS
from ..pruning.methods import METHODS
from ..theory.piecewise import ACTIVATIONS
from ..zoo import ZOO

EOC_MODELS = ("mlp", "cnn")  # [A]'s plain deep networks, initialised on the Edge of Chaos
MODELS = (*EOC_MODELS, *ZOO)  # [C]'s models (Kaiming-initialised, ReLU + BatchNorm where they have it)
OFFSETS = ("dct", "none")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")
DEVICES = ("auto", "cpu", "cuda")


def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (see ``sparseinit train --help``)."""

    dataset: str = _f("mnist", "data set", choices=DATASETS)
    data_root: str | None = _f(None, "data folder (default: the installed package's; required for cifar10)")
    train_subset: int | None = _f(None, "use only the first N training examples (recipe searches; default all)")
    model: str = _f("mlp", "network", choices=MODELS)
    depth: int = _f(100, "number of activated hidden layers (mlp/cnn)")
    width: int = _f(300, "hidden units (mlp) or channels (cnn)")
    kernel_size: int = _f(3, "convolution kernel size (cnn)")
    readout: str = _f("pool", "cnn read-out: global average pool then linear (pool), or linear on every position "
                              "(flatten)", choices=READOUTS)
    width_multiplier: float = _f(1.0, "channel multiplier of vgg*/resnet*")
    density: float | None = _f(None, "trainable weight density in (0, 1] of every linear/conv layer (default dense)")
    offset: str = _f("dct", "with --density: DCT-plus-Sparse layers (dct) or plain sparse ones (none)",
                     choices=OFFSETS)
    budget: str | None = _f(None, "with --density: per-layer budget (default epl for random, global otherwise)",
                            choices=(*BUDGETS, "global"))
    prune_method: str = _f("random", "with --density: how the support is chosen", choices=METHODS)
    keep_first: bool = _f(False, "with --density: keep the first layer dense")
    keep_last: bool = _f(False, "with --density: keep the last layer dense")
    rigl: bool = _f(False, "with --density: RigL dynamic sparse training")
    rigl_every: int = _f(100, "RigL: steps between drop/grow updates")
    rigl_drop: float = _f(0.3, "RigL: initial drop fraction (cosine-decayed)")
    rigl_stop: float = _f(0.75, "RigL: fraction of training after which the support is frozen")
    activation: str = _f("relu", "hidden activation", choices=ACTIVATIONS)
    sparsity: float | None = _f(None, "target activation sparsity in (0, 1); required by relu_tau/st/crelu/cst "
                                      "(relu: 0.5)")
    m: float | None = _f(None, "clip m > 0 for crelu/cst (default 1)")
    slope: float | None = _f(None, "target V'(q*) in (0, 1) for crelu/cst instead of m")
    q_star: float = _f(1.0, "fixed-point variance q* in [1e-6, 1e6]")
    clip: str = _f("absolute", "m absolute or relative to sqrt(q*)", choices=CLIP_MODES)
    input_scale: float = _f(1.0, "multiply the normalised inputs by this")
    match_input: bool = _f(True, "scale the first layer so its pre-activations start at q*")
    redraw_closed: int = _f(0, "mlp/cnn: redraw the initialisation up to N times while a hidden layer starts closed "
                               "(no unit on a linear piece for any of the first 5,000 training inputs); 0: never")
    min_selective: float = _f(0.0, "with --redraw-closed N: also redraw while fewer than this fraction of the "
                                   "narrowest hidden layer's units are input-selective on those inputs, in [0, 1)")
    logit_scale: float = _f(1.0, "mlp/cnn: multiply the logits by this (a softmax temperature of 1/x)")
    optimizer: str = _f("sgd", "optimizer", choices=OPTIMIZERS)
    lr: float = _f(1e-3, "learning rate")
    bias_lr_scale: float = _f(1.0, "multiply the learning rate of every bias by this")
    first_layer_lr_scale: float = _f(1.0, "multiply the learning rate of the first layer's weight by this")
    momentum: float = _f(0.9, "SGD momentum")
    weight_decay: float = _f(0.0, "weight decay")
    schedule: str = _f("constant", "learning-rate schedule", choices=SCHEDULES)
    warmup_steps: int = _f(0, "linear learning-rate warm-up steps")
    min_lr: float = _f(0.0, "cosine: decay to this floor instead of 0, in [0, lr)")
    grad_clip: float | None = _f(None, "clip the gradient norm to this (default: no clipping)")
    batch_size: int = _f(128, "global batch size (split across processes)")
    epochs: int = _f(10, "training epochs")
    seed: int = _f(0, "random seed (initialisation and data order)")
    device: str = _f("auto", "cpu, cuda, or auto", choices=DEVICES)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "data_root" and isinstance(value, os.PathLike):
                value = os.fspath(value)
            object.__setattr__(self, f.name, _coerce(f, value))  # Python callers get the sweep file's type checks
        for f in dataclasses.fields(self):
            if "choices" in f.metadata and not (f.default is None and getattr(self, f.name) is None):
                check_choice(f.name, getattr(self, f.name), f.metadata["choices"])
        for name in ("depth", "width", "kernel_size", "batch_size", "epochs", "rigl_every"):
            check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_int("redraw_closed", self.redraw_closed, 0)
        check_range("min_selective", self.min_selective, 0.0, 1.0, lo_open=False)
        if self.min_selective and not self.redraw_closed:
            raise ValueError(f"min_selective {self.min_selective:g} needs redraw_closed >= 1 (how many times to "
                             "redraw an initialisation below it)")
        if self.train_subset is not None:
            check_int("train_subset", self.train_subset, 2)  # sparsity and selectivity need two inputs
        check_range("lr", self.lr, 0.0, None)
        check_range("min_lr", self.min_lr, 0.0, self.lr, lo_open=False)
        check_range("momentum", self.momentum, 0.0, 1.0, lo_open=False)
        check_range("weight_decay", self.weight_decay, 0.0, None, lo_open=False)
        for name in ("input_scale", "logit_scale", "bias_lr_scale", "first_layer_lr_scale"):
            check_range(name, getattr(self, name), 0.0, None)
        check_range("width_multiplier", self.width_multiplier, 0.0, None)
        if self.density is not None:
            check_range("density", self.density, 0.0, 1.0, hi_open=False)
        elif self.rigl:
            raise ValueError("rigl needs --density (a sparse model)")
        check_range("rigl_drop", self.rigl_drop, 0.0, 1.0, lo_open=False, hi_open=False)
        check_range("rigl_stop", self.rigl_stop, 0.0, 1.0, hi_open=False)
        if self.grad_clip is not None:
            check_range("grad_clip", self.grad_clip, 0.0, None)
        # the EoC point validates activation/sparsity/m/slope/q*/clip with its own one-line errors
        self.eoc()

    def eoc(self) -> EdgeOfChaos:
        """The Edge-of-Chaos point this run initialises at."""
        import warnings

        from ..eoc import edge_of_chaos

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return edge_of_chaos(self.activation, self.sparsity, m=self.m, slope=self.slope, q_star=self.q_star,
                                 clip=self.clip)

    def at_unit_q_star(self) -> TrainConfig:
        """The run at q* = 1 whose network stays 1/√q* times this run's, step for step ([B]; SPEC §3).

        Every EoC activation is homogeneous, φ_{cτ,cm}(c·h) = c·φ_{τ,m}(h), and at q* = c² the EoC point has the
        same σ_w² with σ_b² and (``match_input``) the first layer's σ_w1² multiplied by c²: with the clip relative
        to √q* the q* network drawn from a seed is the q* = 1 one with its first-layer weights and biases × c, so
        every pre-activation and logit × c. Training keeps that if the q* = 1 network's logits are multiplied by c
        (``logit_scale``) and its biases and first-layer weights learn at a rescaled rate: the other weights get the
        same gradient in both networks, and a parameter θ' = c·θ gets ∇_θ L / c, so one SGD step
        Δθ = Δθ'/c = −(η/c²) ∇_θ L (``bias_lr_scale``, ``first_layer_lr_scale`` ÷ q*); Adam's step ignores the
        gradient's scale, Δθ = Δθ'/c (÷ √q*, exact up to Adam's ε). Exact for SGD with momentum; weight decay and
        gradient clipping act on the parameters' and gradient's own units and break it, so they are refused.
        Whatever q* buys in training is therefore a softmax temperature and those two learning rates.
        """
        problems = []
        if self.model not in EOC_MODELS:
            problems.append(f"model {self.model} has no Edge-of-Chaos point")
        if self.density is not None:
            problems.append("the network must be dense (no density)")
        if self.activation in ("crelu", "cst") and self.clip != "relative" and self.q_star != 1.0:
            problems.append("the clip m must be relative to sqrt(q*) (clip = relative)")
        if not self.match_input:
            problems.append("match_input must be on (the first layer's variance then scales with q*)")
        if self.weight_decay:
            problems.append("weight_decay must be 0")
        if self.grad_clip is not None:
            problems.append("grad_clip must be off (it measures the gradient in each network's own units)")
        if problems:
            raise ValueError(f"no q* = 1 equivalent: {'; '.join(problems)}")
        lr_factor = self.q_star if self.optimizer == "sgd" else self.q_star ** 0.5
        return dataclasses.replace(self, q_star=1.0, logit_scale=self.logit_scale * self.q_star ** 0.5,
                                   bias_lr_scale=self.bias_lr_scale / lr_factor,
                                   first_layer_lr_scale=self.first_layer_lr_scale / lr_factor)

    def _ignored(self) -> list[tuple[tuple[str, ...], str]]:
        """The options this run ignores, in groups, each with the reason."""
        groups = []
        if self.model not in EOC_MODELS:
            groups.append((("depth", "width", "kernel_size", "activation", "sparsity", "m", "slope", "q_star", "clip",
                            "match_input", "redraw_closed", "min_selective", "logit_scale"),
                           f"{self.model} is not one of [A]'s Edge-of-Chaos models (mlp, cnn)"))
        if not self.model.startswith(("vgg", "resnet")):
            groups.append((("width_multiplier",), "only vgg*/resnet* take it"))
        if self.model == "mlp":
            groups.append((("readout", "kernel_size"), "only the cnn takes it"))
        elif self.model != "cnn":
            groups.append((("readout",), "only the cnn takes it"))
        activation = self.activation if self.model in EOC_MODELS else TrainConfig.activation
        if activation == "relu":
            groups.append((("sparsity",), "relu's activation sparsity is 0.5"))
        if activation not in ("crelu", "cst"):
            groups.append((("m", "slope", "clip"), f"{activation} is not clipped (only crelu and cst are)"))
        if self.schedule != "cosine":
            groups.append((("min_lr",), "only the cosine schedule takes it"))
        if self.density is None:
            groups.append((("offset", "budget", "prune_method", "keep_first", "keep_last", "rigl"),
                           "it applies only with --density"))
        if not (self.density is not None and self.rigl):
            groups.append((("rigl_every", "rigl_drop", "rigl_stop"), "it applies only with --rigl"))
        return groups

    def normalised(self) -> TrainConfig:
        """The same run with the options it ignores reset to their defaults: relu has s = 0.5; m/slope only
        clip crelu/cst; [C]'s models ignore the EoC options; a dense model ignores the pruning options."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {k: defaults[k] for keys, _ in self._ignored() for k in keys}
        if changes.get("activation", self.activation) == "relu":
            changes["sparsity"] = 0.5
        return dataclasses.replace(self, **changes)

    def ignored_options(self, given: Any) -> list[str]:
        """For each option named in ``given`` that this run ignores (its value would be reset by
        :meth:`normalised`), a line saying why; the command line refuses them, sweeps drop them."""
        plain = self.normalised()
        reasons: dict[str, str] = {}
        for keys, why in self._ignored():  # the first reason is the root one (a model without an EoC point)
            for k in keys:
                reasons.setdefault(k, why)
        lines = []
        for name in given:
            if name in reasons and getattr(self, name) != getattr(plain, name):
                flag = ("no-" if getattr(self, name) is False else "") + name.replace("_", "-")
                lines.append(f"--{flag} has no effect here: {reasons[name]}")
        return lines

    def identity(self) -> dict[str, Any]:
        """The options that define the run's numbers (not where it runs)."""
        d = dataclasses.asdict(self.normalised())
        d.pop("device")
        # where the data lies is not what the run computes (a moved data set still resumes); the key stays, as
        # None, so that folders named after earlier identities keep their names
        d["data_root"] = None
        for added_later, default in (("readout", "pool"), ("redraw_closed", 0), ("min_selective", 0.0),
                                     ("logit_scale", 1.0), ("bias_lr_scale", 1.0), ("first_layer_lr_scale", 1.0),
                                     ("min_lr", 0.0)):
            if d[added_later] == default:
                d.pop(added_later)  # runs from before the option keep their keys (and folders)
        return d

    def key(self) -> str:
        """A short hash of :meth:`identity`."""
        return hashlib.sha1(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config", *, drop_ignored: bool = False) -> TrainConfig:
        """Build from a mapping, with one-line errors for unknown keys and values of the wrong type.

        ``drop_ignored`` (sweeps): options the activation ignores are dropped instead of refused, so one grid
        can cross unclipped activations with values of m.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(known)}")
        values = {k: _coerce(known[k], v, where) for k, v in values.items()}
        if drop_ignored and values.get("activation", cls.activation) not in ("crelu", "cst"):
            values = {k: v for k, v in values.items() if k not in ("m", "slope", "clip")}
        if drop_ignored and values.get("activation", cls.activation) == "relu":
            values.pop("sparsity", None)
        return cls(**values)


def field_type(f: dataclasses.Field) -> type:
    """int, float, bool or str: the type a field's values must have (None allowed where the default is None)."""
    text = str(f.type)
    for name, typ in (("bool", bool), ("int", int), ("float", float)):
        if text.startswith(name):
            return typ
    return str


def _coerce(f: dataclasses.Field, value: Any, where: str | None = None) -> Any:
    """``value`` as the field's type, or a one-line ValueError (ints are accepted for floats); ``where`` (a file)
    prefixes the message."""
    typ = field_type(f)
    if value is None and f.default is None:
        return None
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if typ in (int, float) and not isinstance(value, bool):  # numpy scalars too; ints serve as floats
        if isinstance(value, numbers.Integral if typ is int else numbers.Real):
            value, ok = typ(value), True
    if not ok:
        none = " or None" if f.default is None else ""
        kind = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(typ, typ.__name__)
        raise ValueError(f"{where + ': ' if where else ''}{f.name} must be {kind}{none}, got {value!r}")
    return value
