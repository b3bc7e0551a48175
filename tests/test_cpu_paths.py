"""The common CPU's path, whatever CPU runs the tests: with AVX2 kernels forced (no AVX-512, so no
native bf16) the app's precision is float32 and every convolution of a prediction takes the fast
path (benchmarks/cpu_paths.py in quick mode; no timings checked)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # benchmark runs under capped kernels
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("preset", ["v2", "v3"])
def test_avx2_kernels_predict_in_float32_on_the_fast_path(tmp_path, preset):
    out = tmp_path / "cpu_paths.json"
    env = {k: v for k, v in os.environ.items() if k not in ("FRAMEPRED_TORCH_THREADS", "FRAMEPRED_CPU_SLOTS")}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cpu_paths.py"), "--quick", "--modes", "avx2",
                           "--preset", preset, "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| measurement | avx2 (" in proc.stdout
    r = json.loads(out.read_text())["avx2"]
    assert r["preset"] == preset and f"`{preset}` batch 1" in proc.stdout
    assert r["cpu_capability"] in ("AVX2", "DEFAULT")  # DEFAULT: a CPU without AVX2 at all
    assert r["native_bf16"] is False and r["precision"] == "float32"
    assert set(r["matmul_gflops"]) == {"fp32"} and r["matmul_gflops"]["fp32"] > 0
    for run in r["predict_batch1"].values():
        assert run["fast_conv"]["fast"] > 0 and run["fast_conv"]["fallback"] == 0
    assert r["fast_conv_failed"] == []
    assert r["demo_request"]["median_ms"] > 0 and r["lone_threads"] == r["cores"]
