"""Figures: the GP maps of several activations and the propagation picture ([A] Fig. 1–3 style)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .eoc import EdgeOfChaos
from .propagation import Propagation


def label(eoc: EdgeOfChaos) -> str:
    """Legend label: the activation and its EoC parameters."""
    return eoc.piecewise().describe() + f", s={eoc.sparsity:g}"


def plot_maps(points: Sequence[EdgeOfChaos], path: str | Path) -> Path:
    """V(q) against the identity, V(q) − q near q*, and R(ρ) against the identity, one line per point."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    q_star = max(p.q_star for p in points)
    q = np.linspace(1e-3, 3.0 * q_star, 400)
    near = np.linspace(0.25 * q_star, 2.0 * q_star, 400)
    rho = np.linspace(-1.0, 1.0, 201)
    axes[0].plot(q, q, "k:", lw=1, label="identity")
    axes[1].axhline(0.0, color="k", ls=":", lw=1)
    axes[2].plot(rho, rho, "k:", lw=1, label="identity")
    for p in points:
        lab = label(p) + f" (V'={p.slope:.2f})"
        axes[0].plot(q, p.variance_map(q), label=lab)
        axes[1].plot(near, p.variance_map(near) - near, label=lab)
        axes[2].plot(rho, p.correlation_map(rho), label=label(p))
    axes[0].set(xlabel="q", ylabel="V(q)", title="variance map")
    axes[1].set(xlabel="q", ylabel="V(q) − q", title="distance from a fixed point (tangent = unstable)")
    axes[2].set(xlabel="ρ", ylabel="R(ρ)", title="correlation map at q*")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return save_figure(fig, path)


def plot_propagation(runs: Sequence[Propagation], path: str | Path) -> Path:
    """Per-layer variance (log scale) and sparsity, measured (solid) against theory (dashed), one column per
    activation and one colour per starting variance q⁰."""
    names = list(dict.fromkeys(label(r.eoc) for r in runs))
    fig, axes = plt.subplots(2, len(names), figsize=(5.2 * len(names), 7.5), squeeze=False, sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    starts = sorted({r.q0 for r in runs})
    for run in runs:
        col = names.index(label(run.eoc))
        colour = colours[starts.index(run.q0) % len(colours)]
        layers = np.arange(1, len(run.variance) + 1)
        with np.errstate(invalid="ignore"):
            axes[0, col].semilogy(layers, run.variance, color=colour, label=f"measured, q⁰={run.q0:g}")
            axes[0, col].semilogy(layers, np.minimum(run.theory_variance, 1e300), "--", color=colour, label="theory")
        axes[1, col].plot(layers, run.sparsity, color=colour)
        axes[1, col].plot(layers, run.theory_sparsity, "--", color=colour)
    for col, name in enumerate(names):
        first = next(r for r in runs if label(r.eoc) == name)
        axes[0, col].set_title(f"{name}\nwidth {first.width}, q*={first.eoc.q_star:g}")
        axes[0, col].axhline(first.eoc.q_star, color="k", lw=0.8, ls=":")
        axes[1, col].axhline(first.eoc.sparsity, color="k", lw=0.8, ls=":")
        axes[0, col].set_ylabel("pre-activation variance q^l")
        axes[1, col].set(xlabel="layer l", ylabel="activation sparsity", ylim=(0, 1))
        axes[0, col].legend(fontsize=7)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    return save_figure(fig, path)


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Lay out, save (110 dpi, creating the folder) and close ``fig``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
