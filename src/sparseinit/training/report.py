"""Tables and plots of many runs: mean ± std over seeds, fraction diverged, measured sparsity ([A] Table 1 style).

``report(folder)`` reads every ``summary.json`` (and its ``config.json``) below ``folder``, groups runs that
differ only in their seed, and writes ``table.md``, ``accuracy_vs_sparsity.png`` and ``curves.png`` into
``folder`` (derived files: regenerated, never the runs themselves), ``runs.csv`` (one row per run, so that seeds
can be pooled across reports after the run folders are gone), and ``accuracy_vs_depth.png`` where runs differ
in depth. ``report.json`` lists what a call wrote: the next call replaces those files and removes the ones it does
not write again, and refuses to write over any other file of the same name unless told to overwrite. With a
baseline activation it also writes ``gaps.md``: each row minus the baseline, paired by seed.
Where runs have a trainable-weight density ([C]), it also writes ``density_table.md`` (method × density,
[C] Table style, with stored bytes) and ``accuracy_vs_density.png``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import EOC_MODELS


def _canonical(identity: dict[str, Any]) -> dict[str, Any]:
    """The identity as runs are grouped: an unset clip spelled out (crelu/cst with neither m nor slope use
    m = DEFAULT_M, so runs that left m at its default group with runs that gave it), and ``redraw_closed`` and
    ``min_selective`` left out: a run whose first draw was kept is the same run with or without them, and one that
    was redrawn is counted in the table's "redrawn" column (report one policy at a time: pick run folders with
    ``also``)."""
    from ..eoc import DEFAULT_M

    identity = {k: v for k, v in identity.items() if k not in ("redraw_closed", "min_selective")}
    if identity.get("activation") in ("crelu", "cst") and identity.get("m") is None and identity.get("slope") is None:
        return {**identity, "m": DEFAULT_M}
    return identity


def collect(folder: str | Path) -> list[dict[str, Any]]:
    """Every finished run below ``folder``: its summary, identity (config minus device) and metrics history."""
    from .run_dir import CONFIG, METRICS, read_json

    runs = []
    for summary_path in sorted(Path(folder).rglob("summary.json")):
        run = summary_path.parent
        if not (run / CONFIG).is_file():
            raise ValueError(f"{run} holds a summary.json but no {CONFIG}: not a run folder sparseinit wrote "
                             "(move it out of the reported folder)")
        identity = _canonical(read_json(run / CONFIG, ("identity",))["identity"])
        summary = read_json(summary_path, ("status", "test_accuracy", "train_sparsity", "test_sparsity"))
        history = []
        if (run / METRICS).exists():
            for number, line in enumerate((run / METRICS).read_text().splitlines(), 1):
                try:
                    history.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{run / METRICS} line {number} is not valid JSON ({err.msg})") from None
        runs.append({"summary": summary, "identity": identity, "history": history, "folder": str(run)})
    return runs


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _order(value: Any) -> tuple[int, Any]:
    """Sort key: numbers by value (depth 20 before 100), before anything else by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def aggregate(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (one per config up to the seed) and the identity keys that vary between rows."""
    groups: dict[str, list[dict]] = defaultdict(list)
    seen: dict[str, str] = {}
    for run in runs:
        whole = json.dumps(run["identity"], sort_keys=True)
        if whole in seen:
            raise ValueError(f"{seen[whole]} and {run.get('folder', '?')} are the same run (options and seed): "
                             "report one of them (pick folders with also / --also)")
        seen[whole] = run.get("folder", "?")
        key = {k: v for k, v in run["identity"].items() if k != "seed"}
        groups[json.dumps(key, sort_keys=True)].append(run)
    keys = set().union(*(r["identity"] for r in runs))  # older runs lack keys added later (readout, …)
    varying = sorted(k for k in keys if k != "seed" and len({json.dumps(r["identity"].get(k)) for r in runs}) > 1)
    rows = []
    for key, members in groups.items():
        summaries = [m["summary"] for m in members]
        acc = _mean_std([s["test_accuracy"] for s in summaries])
        ok = [s for s in summaries if s["status"] == "ok"]
        probed = [s for s in summaries if s.get("init_closed_layers") is not None]  # older runs did not measure
        rows.append({
            "identity": json.loads(key), "seeds": len(members), "test_accuracy": acc,
            "diverged": sum(s["status"] == "diverged" for s in summaries) / len(summaries),
            "train_sparsity": statistics.fmean(s["train_sparsity"] for s in ok) if ok else float("nan"),
            "test_sparsity": statistics.fmean(s["test_sparsity"] for s in ok) if ok else float("nan"),
            "closed": (sum(bool(s["init_closed_layers"]) for s in probed), len(probed)),
            "redrawn": sum(bool(s.get("init_redraws")) for s in summaries),
            "runs": members,
        })
    rows.sort(key=lambda r: tuple(_order(r["identity"].get(k)) for k in ("activation", *varying)))
    return rows, varying


def method_label(identity: dict[str, Any]) -> str:
    """How a [C] run chose its trainable weights: ``dense``, ``snip``, ``random (erk)``, ``DCTpS+RigL (epl)``…"""
    if identity.get("density") is None:
        return "dense"
    dct = identity.get("offset") == "dct"
    name = "DCTpS" if dct else str(identity.get("prune_method"))
    if dct and identity.get("prune_method") != "random":
        name += f" {identity.get('prune_method')}"
    if identity.get("rigl"):
        name += "+RigL"
    budget = identity.get("budget")
    return f"{name} ({budget})" if budget and budget != "global" else name


def _density_groups(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[float | None, dict]]]:
    """{dataset/model: {method: {density: row}}} for runs with a density, plus their dense references."""
    groups: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        ident = row["identity"]
        where = f"{ident.get('dataset')} / {ident.get('model')}"
        if ident.get("width_multiplier", 1.0) != 1.0:
            where += f" ×{_fmt(ident['width_multiplier'])}"
        groups[where][method_label(ident)][ident.get("density")] = row
    return {k: v for k, v in groups.items() if any(d is not None for m in v.values() for d in m)}


def density_markdown(rows: list[dict[str, Any]]) -> str:
    """Test accuracy (mean ± std over seeds) per method and density, one table per data set and model, with the
    stored size of the trained model (values + indices + α + biases; D regenerated) under each density."""
    out = []
    for where, methods in sorted(_density_groups(rows).items()):
        densities = sorted({d for m in methods.values() for d in m if d is not None}, reverse=True)
        head = ["method", *[f"d = {d:g}" for d in densities]]
        out += [f"### {where}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        order = sorted(methods, key=lambda m: (m != "dense", m.startswith("DCTpS"), m))
        for method in order:
            cells = []
            for d in densities:
                row = methods[method].get(d) or methods[method].get(None)
                if row is None:
                    cells.append("–")
                    continue
                mean, std = row["test_accuracy"]
                stored = statistics.fmean(r["summary"].get("stored_bytes", float("nan")) for r in row["runs"])
                cells.append(f"{mean:.2f} ± {std:.2f} ({row['seeds']}) · {stored / 1024:.1f} KiB")
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        for which, pick in (("worst", min), ("best", max)):
            margins = [_dctps_margin(methods, d, pick) for d in densities]
            if any(m is not None for m in margins):
                out.append(f"| *margin: {which} DCTpS − best plain sparse* | "
                           + " | ".join("–" if m is None else f"*{m:+.2f}*" for m in margins) + " |")
        out.append("")
    out.append("Cells: test accuracy % mean ± std (seeds) · stored size of the model's conv/linear state. "
               "The dense row repeats its one value in every column. Margins: the lowest (worst) / highest "
               "(best) mean of the DCTpS variants minus the highest mean of the plain sparse methods at that "
               "density.")
    return "\n".join(out) + "\n"


def _dctps_margin(methods: dict[str, dict], density: float,
                  pick: Callable[[list[float]], float] = min) -> float | None:
    """pick (min: worst, max: best) over the DCTpS variants − max over the plain sparse methods of the mean test
    accuracy at ``density``."""
    dct, plain = [], []
    for method, by_density in methods.items():
        if method != "dense" and density in by_density:
            (dct if method.startswith("DCTpS") else plain).append(by_density[density]["test_accuracy"][0])
    return pick(dct) - max(plain) if dct and plain else None


def _plot_density(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt

    from ..figures import save_figure

    groups = _density_groups(rows)
    # one colour per method across every panel, so a method reads the same in each
    names = sorted({m for methods in groups.values() for m in methods if m != "dense"})
    colour = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(names)}
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.5), squeeze=False)
    for ax, (where, methods) in zip(axes[0], sorted(groups.items()), strict=True):
        for method, by_density in sorted(methods.items()):
            if method == "dense":
                mean, _ = by_density[None]["test_accuracy"]
                ax.axhline(mean, color="black", linestyle="--", label="dense")
                continue
            points = sorted((d, *row["test_accuracy"]) for d, row in by_density.items())
            xs, ms, ss = zip(*points, strict=True)
            style = "-" if method.startswith("DCTpS") else ":"
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, linestyle=style, label=method, color=colour[method])
        ax.set(xscale="log", xlabel="trainable weight density", ylabel="test accuracy (%)", title=where)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)


def series_against(rows: list[dict[str, Any]], key: str, varying: list[str]) -> dict[str, list[tuple]]:
    """Test accuracy against one option: {label: sorted [(value, mean, std)]}, one series per other setting."""
    series: dict[str, list] = defaultdict(list)
    others = [k for k in varying if k not in ("activation", key)]
    for row in rows:
        label = ", ".join([str(row["identity"]["activation"])] +
                          [f"{k}={_fmt(row['identity'].get(k))}" for k in others])
        series[label].append((row["identity"][key], *row["test_accuracy"]))
    return {label: sorted(points) for label, points in series.items()}


def _plot_against(rows: list[dict[str, Any]], key: str, varying: list[str], path: Path, xlabel: str) -> None:
    import matplotlib.pyplot as plt

    from ..figures import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in series_against(rows, key, varying).items():
        xs, ms, ss = zip(*points, strict=True)
        ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=label)
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=f"accuracy against {key}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, float) else str(value)


# options only [A]'s plain networks have: [C]'s models (lenet*, vgg*, resnet*) keep them at their defaults
_EOC_SHAPE = ("depth", "width", "kernel_size", "readout")


def _cell(identity: dict[str, Any], key: str) -> str:
    """A row's value of ``key`` for a table; "–" where the run's model or activation has no such option. The clip
    mode of crelu/cst at q* = 1 reads "either": m relative to √q* is then m itself, the same network."""
    if key in _EOC_SHAPE and identity.get("model", "mlp") not in EOC_MODELS:
        return "–"
    if key == "clip" and identity.get("activation") not in ("crelu", "cst"):
        return "–"
    if key == "clip" and identity.get("q_star") == 1.0:
        return "either"
    return _fmt(identity.get(key))


def table_markdown(rows: list[dict[str, Any]], varying: list[str]) -> str:
    """The table: varying options, test accuracy mean ± std (all seeds), seeds, fraction diverged, sparsity; where
    runs measured it, how many started with a closed layer (``init_closed_layers``, :mod:`sparseinit.selectivity`)."""
    columns = ["activation", *[k for k in varying if k != "activation"]]
    head = [*columns, "test acc. (%)", "seeds", "diverged", "train sparsity", "test sparsity"]
    probed = any(row.get("closed", (0, 0))[1] for row in rows)
    redrawn = any(row.get("redrawn") for row in rows)
    if probed:
        head.append("closed at init")
    if redrawn:
        head.append("redrawn")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        mean, std = row["test_accuracy"]
        cells = [_cell(row["identity"], k) for k in columns]
        # one seed has no spread; a group whose runs all diverged has no meaningful sparsity
        cells += [f"{mean:.2f} ± {std:.2f}" if row["seeds"] > 1 else f"{mean:.2f}", str(row["seeds"]),
                  f"{row['diverged']:.0%}", *(("–" if math.isnan(row[k]) else f"{row[k]:.3f}")
                                              for k in ("train_sparsity", "test_sparsity"))]
        if probed:
            closed, measured = row.get("closed", (0, 0))
            cells.append(f"{closed}/{measured}" if measured else "–")
        if redrawn:
            cells.append(f"{row.get('redrawn', 0)}/{row['seeds']}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# the options that make an activation's EoC point; everything else (data, model, budget, seed) is the setting
_POINT_KEYS = ("activation", "sparsity", "m", "slope", "clip", "q_star")


def _setting(identity: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in identity.items() if k not in _POINT_KEYS}, sort_keys=True)


def paired_gaps(rows: list[dict[str, Any]], baseline: str = "relu", within: float = 1.5) -> list[dict[str, Any]]:
    """Each row's test accuracy minus the baseline's, seed by seed, in the same setting ([A] target (i)).

    Pairs run k of a row with the baseline run of the same seed whose options differ only in the activation's
    EoC point (activation, sparsity, m, slope, clip, q*; a baseline at the same q* first). With gaps
    d_k = acc_k − acc_k(baseline) over the n paired seeds: mean d̄, sample std s_d, and the Student-t 95 %
    interval d̄ ± t_{0.975, n−1} s_d / √n (none for n = 1); ``within`` counts the seeds with d_k ≥ −within.
    """
    from scipy import stats

    if isinstance(within, bool) or not (isinstance(within, (int, float)) and 0 < within < math.inf):
        raise ValueError(f"within must be a number of points in (0, inf), got {within!r}")
    bases: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["identity"].get("activation") == baseline:
            bases[_setting(row["identity"])].append(row)
    if not bases:
        names = sorted({str(r["identity"].get("activation")) for r in rows})
        raise ValueError(f"no {baseline} runs to pair with (activations here: {', '.join(names)})")
    gaps = []
    for row in rows:
        ident = row["identity"]
        candidates = bases.get(_setting(ident), [])
        same_q = [b for b in candidates if b["identity"].get("q_star") == ident.get("q_star")]
        chosen = same_q if len(same_q) == 1 else candidates
        if ident.get("activation") == baseline or len(chosen) != 1:
            continue
        base = {r["identity"].get("seed"): r["summary"]["test_accuracy"] for r in chosen[0]["runs"]}
        pairs = sorted((r["identity"].get("seed"), r["summary"]["test_accuracy"], base[r["identity"].get("seed")])
                       for r in row["runs"] if r["identity"].get("seed") in base)
        if not pairs:
            continue
        d = [acc - ref for _, acc, ref in pairs]
        mean, std = _mean_std(d)
        n = len(d)
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else float("nan")
        gaps.append({"identity": ident, "baseline": chosen[0]["identity"], "seeds": [p[0] for p in pairs],
                     "accuracy": _mean_std([p[1] for p in pairs]),
                     "baseline_accuracy": _mean_std([p[2] for p in pairs]),
                     "gaps": d, "gap": mean, "gap_std": std, "interval": (mean - half, mean + half),
                     "within": sum(g >= -within for g in d), "within_points": within})
    return gaps


def highest_sparsity(gaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[B]'s measure: per activation and setting (every option but the sparsity), the highest target sparsity s
    whose mean paired gap to the baseline is within the gaps' ``within`` points (d̄(s) ≥ −within); None if none is.
    Each entry also lists (s, d̄(s)) for every sparsity it saw, so a non-monotone gap is visible."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for g in gaps:
        rest = {k: v for k, v in g["identity"].items() if k != "sparsity"}
        groups[json.dumps(rest, sort_keys=True)].append(g)
    out = []
    for key, members in groups.items():
        members.sort(key=lambda g: g["identity"]["sparsity"])
        within = members[0]["within_points"]
        ok = [g["identity"]["sparsity"] for g in members if g["gap"] >= -within]
        out.append({"identity": json.loads(key), "within_points": within, "highest": max(ok) if ok else None,
                    "gaps": [(g["identity"]["sparsity"], g["gap"]) for g in members]})
    return out


def gaps_markdown(gaps: list[dict[str, Any]], varying: list[str], baseline: str = "relu") -> str:
    """The paired comparison as a table: one line per row that has baseline runs of the same seeds; then [B]'s
    measure (:func:`highest_sparsity`)."""
    columns = ["activation", *[k for k in varying if k != "activation"]]
    within = gaps[0]["within_points"] if gaps else 1.5
    head = [*columns, "seeds", "test acc. (%)", f"{baseline} (%)", "gap (points)", "paired std", "95 % interval",
            f"seeds within {within:g}", "per seed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in gaps:
        n = len(g["gaps"])

        def pm(ms: tuple[float, float], n: int = n) -> str:
            return f"{ms[0]:.2f} ± {ms[1]:.2f}" if n > 1 else f"{ms[0]:.2f}"

        low, high = g["interval"]
        cells = [_cell(g["identity"], k) for k in columns]
        cells += [str(n), pm(g["accuracy"]), pm(g["baseline_accuracy"]), f"{g['gap']:+.2f}",
                  f"{g['gap_std']:.2f}" if n > 1 else "–", f"{low:+.2f} … {high:+.2f}" if n > 1 else "–",
                  f"{g['within']} of {n}", " / ".join(f"{x:+.2f}" for x in g["gaps"])]
        lines.append("| " + " | ".join(cells) + " |")
    if not gaps:
        lines += ["", f"No row pairs with a {baseline} run: a pair needs the same seed and the same options except "
                  "the activation's EoC point (activation, sparsity, m, slope, clip, q*)."]
    if gaps:
        rest = [k for k in columns if k != "sparsity"]
        head = [*rest, "mean gap by sparsity", f"highest sparsity within {within:g}"]
        lines += ["", f"Highest target sparsity whose mean gap to {baseline} is within {within:g} points ([B]'s "
                  "measure):", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for h in highest_sparsity(gaps):
            cells = [_cell(h["identity"], k) for k in rest]
            cells += [" · ".join(f"{s:g}: {d:+.2f}" for s, d in h["gaps"]),
                      "none" if h["highest"] is None else f"{h['highest']:g}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


MANIFEST = "report.json"


RUN_COLUMNS = ("status", "epochs_done", "epochs", "test_accuracy", "val_accuracy", "train_sparsity", "test_sparsity",
               "init_redraws", "wall_time_s")


def runs_csv(runs: list[dict[str, Any]], varying: list[str], folder: Path | None = None) -> str:
    """One CSV row per run: its folder (relative to ``folder`` where below it), activation, seed, the identity
    keys that vary between rows, then :data:`RUN_COLUMNS` from its summary (empty where a summary lacks one)."""
    import csv
    import io

    keys = ["activation", "seed", *(k for k in varying if k != "activation")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run", *keys, *RUN_COLUMNS])

    def where(run: dict[str, Any]) -> str:
        path = Path(run["folder"])
        if folder is not None and path.resolve().is_relative_to(folder.resolve()):
            return path.resolve().relative_to(folder.resolve()).as_posix()
        return path.as_posix()

    def cell(value: Any) -> Any:
        return "" if value is None else json.dumps(value) if isinstance(value, (list, dict, bool)) else value

    for run in sorted(runs, key=lambda r: (*(_order(r["identity"].get(k)) for k in keys), where(r))):
        writer.writerow([where(run), *(cell(run["identity"].get(k)) for k in keys),
                         *(cell(run["summary"].get(k)) for k in RUN_COLUMNS)])
    return out.getvalue()


def _claim(folder: Path, names: Sequence[str], overwrite: bool) -> list[str]:
    """Check that ``names`` may be written into ``folder``: each is absent, or was written by the last report
    there (listed in report.json), or ``overwrite``. Returns the last report's files that this one leaves out."""
    from .run_dir import read_json

    manifest = folder / MANIFEST
    earlier = read_json(manifest, ("files",))["files"] if manifest.exists() else []
    if not overwrite:
        for name in names:
            if (folder / name).exists() and name not in earlier:
                raise ValueError(f"{folder / name} exists and was not written by sparseinit report; move it away "
                                 "or pass overwrite=True (--overwrite)")
    return [name for name in earlier if name not in names]


def report(folder: str | Path, also: Sequence[str | Path] = (), baseline: str | None = None,
           within: float | None = None, overwrite: bool = False) -> dict[str, Path]:
    """Write table.md, runs.csv, accuracy_vs_sparsity.png and curves.png for the runs below ``folder`` (and
    ``also``).

    ``also``: more folders (sweeps or single runs) whose runs join the report; nothing is written into them.
    ``baseline``: an activation (e.g. ``relu``); adds gaps.md, every other row against it seed by seed
    (:func:`paired_gaps`, counting seeds within ``within`` points, default 1.5: [A]'s target). The files of the
    previous report in ``folder`` are replaced (and those it wrote that this one does not are removed, so no stale
    gaps.md is left); any other file in the way is refused unless ``overwrite``.
    """
    import matplotlib.pyplot as plt

    from ..figures import save_figure  # selects the Agg backend

    if within is not None and baseline is None:
        raise ValueError("within counts seeds against a baseline: give baseline too (--baseline ACTIVATION, "
                         "e.g. relu)")
    within = 1.5 if within is None else within
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of runs")
    if isinstance(also, (str, Path)):  # one folder, not a sequence of letters
        also = [also]
    for extra in also:
        if not Path(extra).is_dir():
            raise ValueError(f"{extra} (in also) is not a folder of runs")
    seen: set[Path] = set()
    runs = []
    for source in (folder, *also):
        for run in collect(source):
            if Path(run["folder"]).resolve() not in seen:
                seen.add(Path(run["folder"]).resolve())
                runs.append(run)
    if not runs:
        raise ValueError(f"no finished runs (summary.json) below {folder}")
    rows, varying = aggregate(runs)
    gaps = paired_gaps(rows, baseline, within) if baseline is not None else None  # its errors before any write
    names = {"table": "table.md", "runs": "runs.csv", "accuracy": "accuracy_vs_sparsity.png",
             "curves": "curves.png"}
    if gaps is not None:
        names["gaps"] = "gaps.md"
    if "depth" in varying:
        names["accuracy_depth"] = "accuracy_vs_depth.png"
    if _density_groups(rows):
        names.update(density_table="density_table.md", accuracy_density="accuracy_vs_density.png")
    stale = _claim(folder, list(names.values()), overwrite)
    paths = {key: folder / name for key, name in names.items()}
    from .run_dir import atomic_write, write_json

    # claimed before any is written: a report killed half-way leaves files that the next report may replace
    write_json(folder / MANIFEST, {"files": [*names.values(), *stale], "partial": True})

    def write_text(path: Path, text: str) -> None:
        atomic_write(path, lambda fh: fh.write(text.encode()))

    write_text(paths["table"], table_markdown(rows, varying))
    write_text(paths["runs"], runs_csv(runs, varying, folder))
    if gaps is not None:
        write_text(paths["gaps"], gaps_markdown(gaps, varying, baseline))

    others = [k for k in varying if k not in ("activation", "sparsity")]
    _plot_against(rows, "sparsity", varying, paths["accuracy"], "target activation sparsity")
    if "depth" in varying:
        _plot_against(rows, "depth", varying, paths["accuracy_depth"], "depth (hidden layers)")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        histories = [r["history"] for r in row["runs"] if r["history"]]
        if not histories:
            continue
        n = min(len(h) for h in histories)
        curve = [statistics.fmean(h[i]["val_accuracy"] for h in histories) for i in range(n)]
        label = ", ".join(f"{k}={_fmt(row['identity'].get(k))}" for k in ("activation", *others, "sparsity"))
        ax.plot(range(1, n + 1), curve, marker=".", label=label)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="training curves (mean over seeds)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=6)
    save_figure(fig, paths["curves"])
    if "density_table" in paths:
        write_text(paths["density_table"], density_markdown(rows))
        _plot_density(rows, paths["accuracy_density"])
    for name in stale:
        (folder / name).unlink(missing_ok=True)
    write_json(folder / MANIFEST, {"files": list(names.values()), "runs": len(runs),
                                   "also": [str(a) for a in also], "baseline": baseline, "within": within})
    return paths
