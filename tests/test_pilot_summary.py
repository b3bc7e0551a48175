"""train/pilot/summarize.py: learning-curve tables from Lightning CSV logs, across resumed runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEADER = "epoch,step,train/loss,val/mse_standard,val/mixed_vs_blank,val/reach_s3_t1\n"


def _log(run: Path, version: int, rows: list[str]) -> None:
    d = run / f"version_{version}"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text(HEADER + "".join(r + "\n" for r in rows))


def _summarize(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "train" / "pilot" / "summarize.py"), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.mark.slow
def test_curves_join_resumed_runs_at_their_true_steps(tmp_path):
    runs = tmp_path / "pilot"
    # A fresh run logs validation one step behind, a resumed one two (Lightning's logger counter).
    _log(runs / "b", 0, ["0,149,0.03,,,", "0,149,,148.2,0.864,0.843", "0,299,,145.9,0.852,0.833"])
    _log(runs / "b", 1, ["0,998,,115.9,0.689,0.758", "0,1000,0.02,,,"])
    _log(runs / "a", 0, ["0,149,,157.8,0.932,0.858"])
    out = _summarize("--runs", str(runs), "--names", "b", "--json", str(tmp_path / "c.json"),
                     "--reference", "v2=57.9,0.482,0.670", "--out", str(tmp_path / "c.png"))
    assert out.returncode == 0, out.stderr
    assert "| 1000 | 115.9 | 0.689 | 0.758 |" in out.stdout and "| 150 | 148.2 |" in out.stdout
    assert "a" not in json.loads((tmp_path / "c.json").read_text())  # --names keeps only b
    assert json.loads((tmp_path / "c.json").read_text())["b"]["val/mse_standard"] == {
        "150": 148.2, "300": 145.9, "1000": 115.9}
    assert (tmp_path / "c.png").stat().st_size > 1000

    both = _summarize("--runs", str(runs))  # every candidate: a row each, a column per step
    assert "| a | 157.8 |" in both.stdout and "| b | 148.2 | 145.9 | 115.9 |" in both.stdout

    # Newer logs carry the true step (val/global_step) and need no snapping: 1 020 stays 1 020.
    d = runs / "b" / "version_2"
    d.mkdir()
    (d / "metrics.csv").write_text("epoch,step,val/global_step,val/mse_standard,val/mixed_vs_blank,"
                                   "val/reach_s3_t1\n0,1018,1020.0,113.0,0.681,0.750\n")
    assert "| 1020 | 113.0 | 0.681 | 0.750 |" in _summarize("--runs", str(runs), "--names", "b").stdout

    bad = _summarize("--runs", str(runs), "--reference", "v2=57.9,0.48")
    assert bad.returncode != 0 and "give 3 values" in bad.stderr


def test_power_fit_recovers_a_known_curve_and_projects_it(tmp_path):
    from train.pilot.summarize import power_fit

    curve = {s: 40 + 70 * (s / 1000) ** -0.4 for s in range(1000, 10_001, 500)}
    a, b, p = power_fit(curve, since=2000)
    assert abs(a - 40) < 0.05 and abs(b - 70) < 0.1 and abs(p - 0.4) < 0.006

    runs = tmp_path / "pilot"
    rows = [f"0,{s - 2},,{40 + 70 * (s / 1000) ** -0.4},{0.3 + 0.4 * (s / 1000) ** -0.5},"
            f"{0.45 + 0.3 * (s / 1000) ** -0.6}" for s in range(1000, 10_001, 500)]
    _log(runs / "b", 0, rows)
    out = _summarize("--runs", str(runs), "--names", "b", "--project", "40000")
    assert out.returncode == 0, out.stderr
    expected = 40 + 70 * 40 ** -0.4
    assert f"| standard third, MSE | 40.0 | 70.000 | 0.40 | {expected:.1f} |" in out.stdout
    assert "SSIM" not in out.stdout  # these logs have no SSIM column: nothing to project

    # Logs with the standard third's SSIM (the bar's SSIM >= 0.85): it is fitted and projected too.
    d = runs / "b" / "version_1"
    d.mkdir()
    (d / "metrics.csv").write_text("epoch,step,val/global_step,val/ssim_standard\n" + "".join(
        f"0,{s},{s}.0,{0.9 - 0.2 * (s / 1000) ** -0.5}\n" for s in range(1000, 10_001, 500)))
    out = _summarize("--runs", str(runs), "--names", "b", "--project", "40000")
    assert out.returncode == 0, out.stderr
    assert f"| standard third, SSIM | 0.900 | -0.200 | 0.50 | {0.9 - 0.2 * 40 ** -0.5:.3f} |" in out.stdout
    _log(runs / "a", 0, rows)
    both = _summarize("--runs", str(runs), "--project", "40000")
    assert both.returncode != 0 and "exactly one candidate" in both.stderr
