"""The benchmark script in quick mode (tiny sizes, seconds): every section is there; no timings checked."""

import json
import subprocess
import sys
from pathlib import Path

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
    for label in ("default", "default_bf16", "seed"):
        v = inf[label]
        assert v["gflop_per_prediction"] > 0
        for key in ("median_ms", "p90_ms", "runs"):
            assert key in v["latency_batch1"]
        assert v["throughput"]["sequences_per_s"] > 0
        assert "share_of_matmul_rate_batch1" in v
    assert inf["seed_over_default_latency"] > 0
    assert set(inf["bf16_accuracy"]) >= {"max_abs_diff", "mse_fp32", "mse_bf16"}
    stages = r["demo"]["stages"]
    assert set(stages) == {"generate", "predict", "gif", "metrics", "plot", "hidden_summary"}
    assert abs(sum(s["share"] for s in stages.values()) - 1) < 1e-6
    assert 0 <= r["demo"]["rendering_share"] <= r["demo"]["inspector_open"]["rendering_share"] <= 1
    assert set(r["demo"]["plot_alternatives"]) == {"matplotlib_png", "lineplot_dataframe"}
    for mode in ("fp32", "bf16_autocast"):
        assert r["training"][mode]["sequences_per_s"] > 0
