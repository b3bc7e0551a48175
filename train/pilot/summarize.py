"""Summarise the model-v3 pilots: learning-curve tables (markdown) and one figure.

Reads each candidate's Lightning CSV log (``runs/pilot/NAME/version_*/metrics.csv``, as written by
``train/pilot/run.sh``) and prints, per validation step, the three pilot scores:

* ``val/mse_standard``: the validation set's standard-protocol third (MSE per frame, OpenSTL scale);
* ``val/mixed_vs_blank``: its mixed part (1-3 digits, speeds 0.25-3) as a fraction of blank frames;
* ``val/reach_s3_t1``: the reach test, speed 3, first predicted frame, as a fraction of blank frames.

    python train/pilot/summarize.py --runs runs/pilot --out docs/pilot_curves.png > pilot.md

One candidate (``--names``) is printed as one table, a row per validation step: the long run's curve,
e.g. with v2's scores on the same validation drawn as dashed lines:

    python train/pilot/summarize.py --names b_patch8 --reference v2=57.9,0.482,0.670 \
        --out docs/v3_long_curve.png --json train/resume/v3/curve.json

``--project 20000 40000`` also fits each score's curve (and the standard third's SSIM) with a power
law and extrapolates it to those steps (an estimate at the constant learning rate, before a cooldown).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run by path: make the repository root importable
    sys.path[0] = str(Path(__file__).resolve().parents[2])

from train.curve import validation_step, version_logs

SCORES = {
    "val/mse_standard": "standard third, MSE",
    "val/mixed_vs_blank": "mixed part ÷ blank",
    "val/reach_s3_t1": "reach: speed 3, t+1 ÷ blank",
}
# What is read from the logs and projected: the three pilot scores, and the standard third's SSIM
# (the bar's SSIM >= 0.85; older pilot logs may lack it, and a score without points is not projected).
READ = {**SCORES, "val/ssim_standard": "standard third, SSIM"}


def read_curves(run: Path) -> dict[str, dict[int, float]]:
    """``{score: {step: value}}`` from every ``version_*/metrics.csv`` of one run (later versions win)."""
    curves: dict[str, dict[int, float]] = {k: {} for k in READ}
    for log in version_logs(run):
        with log.open() as f:
            for row in csv.DictReader(f):
                step = validation_step(row["step"], row.get("val/global_step") or None)
                for key in READ:
                    if row.get(key):
                        curves[key][step] = float(row[key])
    return curves


def power_fit(curve: dict[int, float], since: int = 2000) -> tuple[float, float, float]:
    """``(a, b, p)`` of ``a + b * (step / 1000) ** -p`` fitted (least squares) to the points at
    ``step >= since``: ``a`` is where the curve flattens out at this learning rate. ``p`` by grid
    search over 0.05..2, then ``a`` and ``b`` linear."""
    import numpy as np

    pts = sorted((s, v) for s, v in curve.items() if s >= since)
    if len(pts) < 4:
        raise ValueError(f"need at least 4 validation points from step {since}, have {len(pts)}")
    t, y = (np.array(c, dtype=float) for c in zip(*pts))
    best = None
    for p in np.arange(0.05, 2.0001, 0.01):
        design = np.stack([np.ones_like(t), (t / 1000) ** -p], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
        err = float(((design @ np.array([a, b]) - y) ** 2).sum())
        if best is None or err < best[0]:
            best = (err, float(a), float(b), float(p))
    return best[1:]


def projection(curves: dict[str, dict[int, float]], steps: tuple[int, ...], since: int = 2000) -> str:
    """A markdown table of each score's power-law fit and its value at ``steps`` (an extrapolation
    at the run's constant learning rate, before any cooldown)."""
    out = [f"Power-law fit a + b·(step/1000)^−p to validation steps ≥ {since}, extrapolated:\n",
           "| score | a (flattens at) | b | p | " + " | ".join(f"step {s}" for s in steps) + " |",
           "|---|---|---|---|" + "---|" * len(steps)]
    for key, title in READ.items():
        if not curves.get(key):
            continue
        a, b, p = power_fit(curves[key], since)
        values = " | ".join(_fmt(key, a + b * (s / 1000) ** -p) for s in steps)
        out.append(f"| {title} | {_fmt(key, a)} | {b:.3f} | {p:.2f} | {values} |")
    return "\n".join(out) + "\n"


def _fmt(key: str, value: float) -> str:
    return f"{value:.1f}" if key == "val/mse_standard" else f"{value:.3f}"


def markdown(all_curves: dict[str, dict[str, dict[int, float]]]) -> str:
    """One table per score: a row per candidate, a column per validation step (one candidate: one
    table, a row per validation step)."""
    steps = sorted({s for c in all_curves.values() for s in c["val/mse_standard"]})
    if len(all_curves) == 1:
        (name, curves), = all_curves.items()
        out = [f"**{name}**, by training step:\n", "| step | " + " | ".join(SCORES.values()) + " |",
               "|---|" + "---|" * len(SCORES)]
        for s in steps:
            out.append(f"| {s} | " + " | ".join(_fmt(k, curves[k][s]) if s in curves[k] else "" for k in SCORES) + " |")
        return "\n".join(out) + "\n"
    out = []
    for key, title in SCORES.items():
        out.append(f"**{title}** (`{key}`), by training step:\n")
        out.append("| candidate | " + " | ".join(str(s) for s in steps) + " |")
        out.append("|---|" + "---|" * len(steps))
        for name, curves in all_curves.items():
            cells = [_fmt(key, curves[key][s]) if s in curves[key] else "" for s in steps]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def figure(all_curves: dict[str, dict[str, dict[int, float]]], path: Path,
           references: dict[str, tuple[float, ...]] | None = None) -> None:
    """The curves, one panel per score; ``references`` ({name: one value per score}) as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCORES), figsize=(4.2 * len(SCORES), 3.4))
    for ax, (key, title) in zip(axes, SCORES.items()):
        for name, curves in all_curves.items():
            pts = sorted(curves[key].items())
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=name)
        for i, (name, values) in enumerate((references or {}).items()):
            ax.axhline(values[list(SCORES).index(key)], ls="--", lw=1, color=f"C{len(all_curves) + i}", label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training step (batch 16)")
        # Thousands of steps as "10k": full numbers run into each other on a long run's axis.
        ax.xaxis.set_major_formatter(lambda x, _pos: f"{x / 1000:g}k" if x else "0")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="runs/pilot", help="folder holding one run folder per candidate")
    p.add_argument("--names", nargs="+", help="only these candidates (default: every run folder)")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=STD,MIXED,REACH",
                   help="a model's three scores on the same validation, drawn as dashed lines")
    p.add_argument("--project", nargs="+", type=int, metavar="STEP",
                   help="one candidate: also fit each score's curve (from step --fit-from) and extrapolate to "
                        "these steps")
    p.add_argument("--fit-from", type=int, default=2000, help="first validation step the fit uses")
    p.add_argument("--out", help="also draw the curves into this PNG")
    p.add_argument("--json", help="also write the curves as JSON")
    args = p.parse_args(argv)
    runs = sorted(d for d in Path(args.runs).iterdir() if d.is_dir() and any(d.glob("version_*/metrics.csv"))
                  and (args.names is None or d.name in args.names))
    references = {}
    for ref in args.reference:
        name, _, values = ref.partition("=")
        references[name] = tuple(float(v) for v in values.split(","))
        if len(references[name]) != len(SCORES):
            p.error(f"--reference {ref}: give {len(SCORES)} values ({', '.join(SCORES)})")
    all_curves = {d.name: read_curves(d) for d in runs}
    print(markdown(all_curves))
    if args.project:
        if len(all_curves) != 1:
            p.error("--project needs exactly one candidate (--names)")
        print(projection(next(iter(all_curves.values())), tuple(args.project), args.fit_from))
    if args.out:
        figure(all_curves, Path(args.out), references)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {n: {k: {str(s): v for s, v in c.items()} for k, c in cs.items()} for n, cs in all_curves.items()},
            indent=1) + "\n")
    return all_curves


if __name__ == "__main__":
    main()
