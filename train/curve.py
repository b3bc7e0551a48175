"""Learning curve of a training run from its CSV logs (every version, so resumed runs join up).

    python train/curve.py runs/default --out checkpoints/default/learning_curve.png
    python train/curve.py STABLE_RUN BRANCH_RUN --out ...   # a cooldown branch from the stable run
    python train/curve.py --compare A/metrics.json B/metrics.json   # gpu_run.py branches side by side

Prints the validation table (step, val MSE, val SSIM) as markdown and writes a PNG of the training
loss and the validation MSE / SSIM against training step.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def version_logs(run_dir: str | Path) -> list[Path]:
    """A run's ``version_*/metrics.csv``, in the order the versions ran (resumes count up)."""
    return sorted(Path(run_dir).glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))


def gpu_run_logs(metrics_json: str | Path) -> pd.DataFrame:
    """A ``train/gpu_run.py`` run's ``metrics.json`` as rows of train.py's CSV log: the loss readings
    (``train/loss``, ``lr-AdamW``) and each validation of the EMA (``val/*`` at ``val/global_step``)."""
    m = json.loads(Path(metrics_json).read_text())
    rows = [{"step": c["step"], "train/loss": c["loss"], "lr-AdamW": c["lr"]} for c in m["curve"]]
    rows += [{"step": v["step"], "val/global_step": v["step"], **{f"val/{k}": x for k, x in v["ema"].items()}}
             for v in m["validations"] if v["when"] != "start"]  # the start is the init's last row
    return pd.DataFrame(rows)


BRANCH_COLUMNS = {"mse": "val MSE", "mse_standard": "standard third", "ssim_standard": "its SSIM",
                  "half_pixel_change": "half-pixel", "mixed_vs_blank": "mixed ÷ blank", "reach_s3_t1": "reach t+1",
                  "reach_s3": "reach", "reach_s3_d3": "reach, 3 digits"}


def branch_table(*metrics_jsons: str | Path) -> pd.DataFrame:
    """``train/gpu_run.py`` runs side by side: one row per run and validation (start, middle, end) of
    the EMA, with the columns of :data:`BRANCH_COLUMNS` that the run measured."""
    rows = []
    for path in metrics_jsons:
        m = json.loads(Path(path).read_text())
        name = Path(path).parent.name
        for v in m["validations"]:
            rows.append({"run": name, "when": v["when"], "step": v["step"],
                         **{label: v["ema"].get(key) for key, label in BRANCH_COLUMNS.items()}})
    return pd.DataFrame(rows).dropna(axis=1, how="all")


def _load_run(run_dir: str | Path) -> pd.DataFrame:
    if Path(run_dir).suffix == ".json":  # a gpu_run.py output's metrics.json
        return gpu_run_logs(run_dir)
    files = version_logs(run_dir)
    if not files:
        raise FileNotFoundError(f"no version_*/metrics.csv under {run_dir}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def load_logs(run_dir: str | Path, *branches: str | Path) -> pd.DataFrame:
    """All ``version_*/metrics.csv`` of a run, concatenated and sorted by step.

    ``branches`` are runs resumed from it (a cooldown branch with its own ``--run-dir``): each one
    replaces the curve from its first logged step on, so the result is the path to the branch's end.
    """
    logs = _load_run(run_dir)
    for branch in branches:
        b = _load_run(branch)
        logs = pd.concat([logs[logs["step"] < b["step"].min()], b], ignore_index=True)
    # A stable sort keeps the versions in order within a step, so that "keep last" means the later run.
    return logs.sort_values("step", kind="stable")


def validation_step(logged_step, global_step=None) -> int:
    """The optimiser step a validation row belongs to: ``val/global_step`` where train.py logged it.
    Older logs have only Lightning's ``step``, which lags it by one (two after a resume); validation
    intervals are multiples of 50, so that is snapped to the nearest one."""
    if global_step is not None and global_step == global_step:  # (NaN: not logged in this row)
        return int(float(global_step))
    return 50 * round((int(logged_step) + 1) / 50)


def val_table(logs: pd.DataFrame) -> pd.DataFrame:
    """One row per validation: the optimiser step (:func:`validation_step`), ``val/mse``, ``val/ssim``."""
    v = logs.dropna(subset=["val/mse"])
    true = v["val/global_step"] if "val/global_step" in v else [None] * len(v)
    v = v.assign(step=[validation_step(s, g) for s, g in zip(v["step"], true)])
    v = v[["step", "val/mse", "val/ssim"]]
    return v.drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)


def _blank_mse(n: int) -> float:
    """MSE of all-black predictions on the first ``n`` held-out sequences (the plateau to leave)."""
    from framepred import data, metrics

    seqs = data.to_unit_float(data.test_set(n))
    return float(metrics.frame_mse(metrics.blank_baseline(seqs[:, :10], 10), seqs[:, 10:]).mean())


def plot(logs: pd.DataFrame, out: str | Path, val_size: int = 200) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    tr = logs.dropna(subset=["train/loss"])
    ax1.plot(tr["step"], tr["train/loss"].rolling(20, min_periods=1).mean())
    ax1.set(title="training loss (MSE, all next frames)", xlabel="step", yscale="log")
    v = val_table(logs)
    ax2.plot(v["step"], v["val/mse"], "o-", ms=3)
    ax2.axhline(_blank_mse(val_size), ls="--", c="grey", label="blank frames")
    ax2.set(title="val MSE per frame (10 → 10)", xlabel="step")
    ax2.legend(fontsize=7)
    ax3.plot(v["step"], v["val/ssim"], "o-", ms=3)
    ax3.set(title="val SSIM", xlabel="step")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="run_dir",
                   help="the run's folder, then any branches resumed from it (each replaces the curve from its "
                        "first step); a train/gpu_run.py metrics.json counts as a run")
    p.add_argument("--out", help="PNG to write")
    p.add_argument("--compare", action="store_true",
                   help="print the runs (gpu_run.py metrics.json files) side by side instead of one joined curve")
    args = p.parse_args(argv)
    if args.compare:
        print(markdown(branch_table(*args.run_dirs)))
        return
    logs = load_logs(*args.run_dirs)
    print(markdown(val_table(logs)))
    if args.out:
        plot(logs, args.out)


def markdown(table: pd.DataFrame) -> str:
    """``table`` as a markdown table, numbers to 4 significant digits, "—" where a run has no such
    figure (an older run's validation lacked it; no tabulate needed)."""
    cell = lambda x: ("—" if x != x else f"{x:.4g}") if isinstance(x, float) else str(x)  # noqa: E731  (NaN != NaN)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
