"""The benchmark script in quick mode (tiny sizes, seconds): every section is there; no timings checked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark run
REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_writes_every_section(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| measurement | result |" in proc.stdout  # the markdown table
    r = json.loads(out.read_text())
    assert r["quick"] is True
    for key in ("date", "cpu", "cores", "torch", "threads"):
        assert key in r["machine"]
    for dtype in ("fp32", "bf16"):
        assert r["matmul"][dtype]["gflops_best"] > 0
    inf = r["inference"]
    for label in ("v2", "v2_bf16", "v3", "v3_bf16", "seed"):
        v = inf[label]
        assert v["gflop_per_prediction"] > 0
        for key in ("n", "median_ms", "p90_ms", "p95_ms"):
            assert key in v["latency_batch1"]
        assert v["throughput"]["sequences_per_s"] > 0
        assert "share_of_matmul_rate_batch1" in v
    assert inf["seed_over_v2_latency"] > 0
    assert set(inf["bf16_accuracy"]) >= {"max_abs_diff", "mse_fp32", "mse_bf16"}
    demo = r["demo"]
    for request in (demo, demo["compare"]):  # one model, and two models compared
        # one pipeline.predict call, in parts: the functions it calls, and the rest of it
        assert set(request["stages"]) == {"generate", "predict", "gif", "metrics", "downloads", "pipeline_other"}
        assert abs(sum(s["share"] for s in request["stages"].values()) - 1) < 1e-6
        stages = ("generate", "predict", "gif", "metrics", "downloads")
        assert all(request["stages"][k]["median_ms"] > 0 for k in stages)
        assert request["total"]["n"] == request["runs"] and request["total"]["median_ms"] > 0
    assert demo["compare"]["models"] == ["default", "other"] and demo["compare"]["over_single"] > 0
    assert "pipeline.predict" in demo["note"] and "pipeline.predict" in proc.stdout
    assert 0 <= demo["rendering_share"] <= demo["inspector_open"]["rendering_share"] <= 1
    for viewer in ("one_model", "two_models"):
        assert demo["frame_viewer"][viewer]["median_ms"] > 0 and demo["frame_viewer"][viewer]["steps"] == 20
    assert (demo["frame_viewer"]["one_model"]["models"], demo["frame_viewer"]["two_models"]["models"]) == (1, 2)
    assert "compare request" in proc.stdout and "frame viewer" in proc.stdout
    assert set(demo["plot_alternatives"]) == {"matplotlib_png", "lineplot_dataframe"}
    for mode in ("fp32", "bf16_autocast"):
        assert r["training"][mode]["sequences_per_s"] > 0
