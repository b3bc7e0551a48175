"""The model on this CPU's native kernels and on AVX2 kernels (what most CPUs people have run).

    python benchmarks/cpu_paths.py                 # ~1.5 min on 2 cores; --json to keep the numbers
    python benchmarks/cpu_paths.py --quick         # seconds, tiny sizes (numbers not meaningful)
    python benchmarks/cpu_paths.py --preset v2     # another design (``framepred.config.PRESETS``)

Each mode runs in its own process, since PyTorch and oneDNN pick their kernels at start-up:
``native`` (the machine as it is) and ``avx2`` (``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2``: no AVX-512, no native bf16, as on a common laptop or cloud CPU; the app
then predicts in float32). Per mode: the matmul rate, the model's batch-1 prediction in the app's
precision with every core and with one thread (random weights of the ``--preset`` design, by
default the shipped default's, recorded under its own name such as ``v3``), its share of the
matmul rate, and one demo request through ``framepred.serving`` as the app runs it
(``benchmarks/run.py``'s ``demo_request``, thread policy from ``cpu.configure_threads``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from framepred.config import PRESETS

REPO = Path(__file__).resolve().parent.parent
MODES = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}
FULL = dict(matmul_sizes=(1024, 2048), matmul_runs=10, warmup=5, runs=40, demo_runs=20)
QUICK = dict(matmul_sizes=(256,), matmul_runs=2, warmup=1, runs=3, demo_runs=2)


def _run_module():
    """benchmarks/run.py as a module (its timing helpers and demo request), without a sys.path edit."""
    spec = importlib.util.spec_from_file_location("framepred_bench_run", Path(__file__).with_name("run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def matmul_rate(dtype, sizes: tuple[int, ...], runs: int, bench) -> float:
    """Best GFLOP/s of n x n x n products in ``dtype`` through torch.mm and oneDNN (as
    ``benchmarks/run.py`` measures it; one dtype only: emulated bf16 on AVX2 would take minutes)."""
    import torch

    best = 0.0
    for n in sizes:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
        c = torch.empty(n, n, dtype=dtype)
        ts = bench.time_runs(lambda: torch.mm(a, b, out=c), runs, 2)
        if torch.backends.mkldnn.is_available():
            x, w = b.reshape(1, n, 1, n), a.reshape(n, n, 1, 1)
            ts += bench.time_runs(lambda: torch.ops.aten.mkldnn_convolution(x, w, None, [0, 0], [1, 1], [1, 1], 1),
                                  runs, 2)
        best = max(best, 2.0 * n**3 / min(ts) / 1e9)
    return best


def measure(quick: bool, preset: str = "default") -> dict:
    """One mode's numbers, in this process (its kernels were chosen by its environment)."""
    import numpy as np
    import torch

    from framepred import fast_conv, inference
    from framepred.serving import cpu, models

    bench = _run_module()
    p = QUICK if quick else FULL
    cfg = bench.configs(quick, (preset,))[preset]
    cores = cpu.cpu_count()
    lone_threads = cpu.configure_threads(2)  # as app.py does; a lone request gets every core
    precision = models.precision(torch.device("cpu"))
    dtype = inference.resolve_dtype(precision)
    watch = bench.CpuWatch().__enter__()
    matmul = {name: matmul_rate(d, p["matmul_sizes"], p["matmul_runs"], bench)
              for name, d in (("fp32", torch.float32), ("bf16", torch.bfloat16)) if d in (torch.float32, dtype)}
    model = bench.make_model(cfg)
    ctx = bench.sequences(1)[0, : bench.CONTEXT]
    flops = bench.count_flops(model, ctx)
    ref = matmul["bf16" if dtype == torch.bfloat16 else "fp32"]
    predict = {}
    for threads in sorted({lone_threads, 1}, reverse=True):
        inference.share_cpu(threads, 1)  # exactly this many threads, whatever the app's policy
        fast_conv.reset_stats()
        ts = bench.time_runs(lambda: inference.predict(model, ctx, bench.HORIZON, dtype=dtype), p["runs"], p["warmup"])
        s = bench.summarize_times(ts)
        predict[f"threads_{threads}"] = {**s, "gflops": flops / (s["median_ms"] / 1e3) / 1e9,
                                         "share_of_matmul_rate": flops / (s["median_ms"] / 1e3) / 1e9 / ref,
                                         "fast_conv": fast_conv.stats()}
    cpu.configure_threads(2)
    root = Path(tempfile.mkdtemp(prefix="framepred-cpu-paths-"))
    with bench.served_models(cfg, root / "checkpoints"):
        for i in range(p["warmup"]):
            bench.demo_request(10_000 + i, root)
        demo = bench.stage_summary([bench.demo_request(i, root) for i in range(p["demo_runs"])])
    watch.__exit__(None, None, None)
    return {
        "preset": PRESETS[preset].preset, "cpu": bench.cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": inference.native_bf16("cpu"), "precision": precision, "cores": cores,
        "torch": torch.__version__, "gflop_per_prediction": flops / 1e9,
        "matmul_gflops": matmul, "other_cpu_load_cores": watch.other_cores,
        "predict_batch1": predict, "lone_threads": lone_threads,
        "fast_conv_failed": sorted(str(d) for d in fast_conv.failed_dtypes()),
        "demo_request": {"median_ms": demo["total_ms_median"], "p90_ms": demo["total"]["p90_ms"],
                         "predict_ms": demo["stages"]["predict"]["median_ms"]},
        "quick": quick, "median_of": p["runs"], "np": np.__version__,
    }


def markdown(results: dict) -> str:
    modes = list(results)
    head = "| measurement | " + " | ".join(f"{m} ({results[m]['cpu_capability']}, {results[m]['precision']})"
                                          for m in modes) + " |"
    rows = [head, "|---|" + "---|" * len(modes)]

    def row(label: str, fn) -> None:
        rows.append(f"| {label} | " + " | ".join(fn(results[m]) for m in modes) + " |")

    row("matmul rate (GFLOP/s)", lambda r: ", ".join(f"{k} {v:.0f}" for k, v in r["matmul_gflops"].items()))
    for key in sorted(next(iter(results.values()))["predict_batch1"], reverse=True):
        preset = next(iter(results.values())).get("preset", "default")
        row(f"`{preset}` batch 1, 10 -> 10, {key.replace('_', ' ')} (median)",
            lambda r, k=key: (f"{r['predict_batch1'][k]['median_ms']:.1f} ms, "
                              f"{100 * r['predict_batch1'][k]['share_of_matmul_rate']:.0f}% of matmul")
            if k in r["predict_batch1"] else "-")
    row("demo request (median, p90; predict part)", lambda r: (f"{r['demo_request']['median_ms']:.1f} ms, "
        f"{r['demo_request']['p90_ms']:.1f} ms; {r['demo_request']['predict_ms']:.1f} ms"))
    row("fast path failed for", lambda r: ", ".join(r["fast_conv_failed"]) or "none")
    row("CPU used by other processes meanwhile (cores)", lambda r: f"{r['other_cpu_load_cores']:.2f}"
        if r["other_cpu_load_cores"] is not None else "-")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few runs (seconds; for tests)")
    ap.add_argument("--preset", default="default", choices=sorted(PRESETS),
                    help="model design to time (a framepred.config preset)")
    ap.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one mode, JSON on stdout
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.quick, args.preset)))
        return {}
    results = {}
    for mode in args.modes:
        env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--preset", args.preset] + (
            ["--quick"] if args.quick else [])
        proc = subprocess.run(cmd, env={**env, **MODES[mode]}, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            raise SystemExit(f"mode {mode} failed:\n{proc.stderr[-3000:]}")
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
