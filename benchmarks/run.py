"""framepred benchmarks: prediction latency and throughput, one demo request, training speed, FLOPs.

    python benchmarks/run.py                      # full run (< 5 minutes on 2 CPU cores)
    python benchmarks/run.py --quick --json q.json # seconds: tiny sizes, few runs (for the tests)

Prints a markdown table and writes every number as JSON (``--json``, default
``benchmarks/results.json`` in full mode). Sections:

* ``machine``: date, CPU model, cores, torch/numpy versions, threads.
* ``matmul``: this machine's measured rate of a large fp32 and bf16 matrix product, the practical
  hardware limit that the model's achieved GFLOP/s is compared with.
* ``inference``: 10 -> 10 prediction through ``framepred.inference.predict`` (numpy in, numpy out)
  for the ``default`` and ``seed`` presets (random weights; timing does not depend on them): FLOPs
  per prediction (``torch.utils.flop_counter``), batch-1 latency (median and p90), batch-32
  throughput, achieved GFLOP/s and its share of the matmul rate; ``default`` also in bf16, with the
  accuracy cost against float32.
* ``demo``: one full demo request as the app's UI runs it: generate a sequence -> predict (with the
  hidden states) -> GIF (+ .npy) -> metrics (model and copy-last baseline) -> the line-plot tables
  Gradio serialises (the browser draws them) -> hidden-state pictures; the median time of each stage
  and its share. ``plot_alternatives`` keeps the cost of a server-side matplotlib figure.
* ``training``: training steps of the ``default`` preset (batch 16, teacher forcing, context
  outputs, MSE, backward, AdamW) in float32 and under bf16 autocast, in sequences per second.
* ``other_cpu_load_cores``: CPU that other processes used during each section (from /proc/stat);
  anything well above 0 means the timings of that section were disturbed.

Every timing keeps median, p90, mean and min; rates use the median.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from framepred import data, inference, metrics, viz  # noqa: E402
from framepred import model as fp_model  # noqa: E402
from framepred.model import ConvLSTMConfig, ConvLSTMSeq2Seq  # noqa: E402

CONTEXT, HORIZON = 10, 10

# Run counts and sizes. Full mode: >= 30 batch-1 runs per preset after warm-up; the seed's batch of 32
# takes ~15-20 s on 2 cores, so its throughput gets only 3 runs. The whole run takes ~2 minutes there.
FULL = dict(matmul_sizes=(1024, 2048), matmul_runs=10, warmup=3, lat_runs={"default": 100, "seed": 30},
            tput_batch=32, tput_runs={"default": 10, "seed": 3}, demo_runs=30, train_batch=16,
            train_steps=6, accuracy_seqs=16)
QUICK = dict(matmul_sizes=(256,), matmul_runs=3, warmup=1, lat_runs={"default": 3, "seed": 3},
             tput_batch=4, tput_runs={"default": 2, "seed": 1}, demo_runs=2, train_batch=2,
             train_steps=1, accuracy_seqs=2)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    cpu = cpu_model()
    flags = ""
    try:
        flags = next(l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags"))
    except (OSError, StopIteration):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "avx512_bf16": " avx512_bf16" in flags,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "platform": platform.platform(),
    }


class CpuWatch:
    """How much CPU other processes used while a section ran (from /proc/stat), in cores: timings
    taken while something else runs on this machine are not comparable (0.0 = quiet machine)."""

    def __enter__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        busy, own = self._busy(), self._own()
        self.other_cores = None if busy is None else max(0.0, (busy - self.busy0 - (own - self.own0)) / wall)
        return False

    @staticmethod
    def _busy() -> float | None:
        try:
            v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return None
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait, seconds

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system


def summarize_times(ts: list[float]) -> dict:
    a = np.asarray(ts)
    return {"runs": len(a), "median_ms": float(np.median(a) * 1e3), "p90_ms": float(np.percentile(a, 90) * 1e3),
            "mean_ms": float(a.mean() * 1e3), "min_ms": float(a.min() * 1e3)}


def time_runs(fn, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def configs(quick: bool) -> dict[str, ConvLSTMConfig]:
    cfgs = {name: ConvLSTMConfig.preset_config(name) for name in ("default", "seed")}
    if quick:  # same architectures, much narrower
        cfgs["default"] = ConvLSTMConfig(**{**cfgs["default"].to_dict(), "hidden_dims": (8, 8)})
        cfgs["seed"] = ConvLSTMConfig(**{**cfgs["seed"].to_dict(), "hidden_dims": (8, 8)})
    return cfgs


def make_model(cfg: ConvLSTMConfig, seed: int = 0) -> ConvLSTMSeq2Seq:
    torch.manual_seed(seed)
    return ConvLSTMSeq2Seq(cfg).eval()


def sequences(n: int, seed: int = 0) -> np.ndarray:
    """``n`` MovingMNIST sequences of 20 frames (held-out digits), float32 ``(n, 20, 64, 64)``."""
    return data.generate(data.load_digits("test"), np.random.default_rng(seed), n, CONTEXT + HORIZON)


# --------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------
def bench_matmul(sizes: tuple[int, ...], runs: int) -> dict:
    """GFLOP/s of n x n x n matrix products in float32 and bfloat16 (best and median of ``runs``),
    through ``torch.mm`` (MKL for fp32, oneDNN for bf16) and through oneDNN directly (the same
    product as a 1x1 convolution: oneDNN is what runs the model's convolutions, and on CPUs that MKL
    does not recognise, MKL's fp32 GEMM may not use every vector unit). ``gflops_best`` of a dtype
    is the best over sizes and both paths: the measured hardware limit."""
    out: dict = {"sizes": list(sizes)}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        entry: dict = {}
        for n in sizes:
            g = torch.Generator().manual_seed(0)
            a = torch.randn(n, n, generator=g).to(dtype)
            b = torch.randn(n, n, generator=g).to(dtype)
            c = torch.empty(n, n, dtype=dtype)
            res = {"torch_mm": time_runs(lambda: torch.mm(a, b, out=c), runs, 2)}
            if torch.backends.mkldnn.is_available():
                x = b.reshape(1, n, 1, n)  # (N=1, C_in=n, 1, n pixels)
                w = a.reshape(n, n, 1, 1)  # (C_out=n, C_in=n, 1, 1)
                try:
                    res["onednn"] = time_runs(
                        lambda: torch.ops.aten.mkldnn_convolution(x, w, None, [0, 0], [1, 1], [1, 1], 1), runs, 2)
                except RuntimeError:
                    pass
            flops = 2.0 * n**3
            for k, ts in res.items():
                entry[f"{k}_{n}"] = {"gflops_best": flops / min(ts) / 1e9,
                                     "gflops_median": flops / float(np.median(ts)) / 1e9}
        entry["gflops_best"] = max(v["gflops_best"] for v in entry.values())
        out[name] = entry
    return out


def count_flops(model: ConvLSTMSeq2Seq, context: np.ndarray, **kw) -> int:
    """FLOPs of one prediction (convolutions and matmuls, counted by torch's FlopCounterMode, which
    knows the standard convolution but not the cached-oneDNN one: switched off while counting)."""
    was = fp_model._FAST_CONV["enabled"]
    fp_model.set_fast_conv(False)
    try:
        with FlopCounterMode(display=False) as fc:
            inference.predict(model, context, HORIZON, **kw)
    finally:
        fp_model.set_fast_conv(was)
    return int(fc.get_total_flops())


def bench_inference(cfgs: dict, p: dict, peak: dict, seqs: np.ndarray, trained: Path | None) -> dict:
    out = {}
    variants = [("default", "default", {}), ("default_bf16", "default", {"dtype": torch.bfloat16}),
                ("seed", "seed", {})]
    for label, preset, kw in variants:
        model = make_model(cfgs[preset])
        ctx1 = seqs[0, :CONTEXT]
        ctxb = seqs[: p["tput_batch"], :CONTEXT]
        flops = count_flops(model, ctx1)  # counted in float32; bf16 does the same arithmetic
        lat = time_runs(lambda: inference.predict(model, ctx1, HORIZON, **kw), p["lat_runs"][preset], p["warmup"])
        tput = time_runs(lambda: inference.predict(model, ctxb, HORIZON, **kw), p["tput_runs"][preset],
                         1 if preset != "seed" else 0)
        lat_s = summarize_times(lat)
        tput_s = summarize_times(tput)
        rate = flops / (lat_s["median_ms"] / 1e3) / 1e9
        rate_b = flops * p["tput_batch"] / (tput_s["median_ms"] / 1e3) / 1e9
        ref = peak["bf16" if kw.get("dtype") == torch.bfloat16 else "fp32"]["gflops_best"]
        out[label] = {
            "preset": preset,
            "config": cfgs[preset].to_dict(),
            "dtype": "bf16" if kw else "fp32",
            "parameters": model.num_parameters(),
            "gflop_per_prediction": flops / 1e9,
            "latency_batch1": lat_s,
            "throughput": {"batch": p["tput_batch"], **tput_s,
                           "sequences_per_s": p["tput_batch"] / (tput_s["median_ms"] / 1e3)},
            "achieved_gflops_batch1": rate,
            "achieved_gflops_batch": rate_b,
            "share_of_matmul_rate_batch1": rate / ref,
            "share_of_matmul_rate_batch": rate_b / ref,
            "matmul_reference": "bf16" if kw else "fp32",
        }
    out["seed_over_default_latency"] = (out["seed"]["latency_batch1"]["median_ms"]
                                        / out["default"]["latency_batch1"]["median_ms"])
    out["seed_over_default_throughput"] = (out["default"]["throughput"]["sequences_per_s"]
                                           / out["seed"]["throughput"]["sequences_per_s"])
    out["bf16_accuracy"] = bf16_accuracy(cfgs["default"], seqs[: p["accuracy_seqs"]], trained)
    return out


def bf16_accuracy(cfg: ConvLSTMConfig, seqs: np.ndarray, trained: Path | None) -> dict:
    """How far bf16 predictions are from float32 ones, and what that does to the metrics."""
    model = inference.load_model(trained, "cpu") if trained else make_model(cfg)
    ctx, truth = seqs[:, :CONTEXT], seqs[:, CONTEXT:]
    p32 = inference.predict(model, ctx, HORIZON)
    p16 = inference.predict(model, ctx, HORIZON, dtype=torch.bfloat16)
    m32, m16 = metrics.all_metrics(p32, truth), metrics.all_metrics(p16, truth)
    return {
        "weights": str(trained.relative_to(REPO)) if trained else "random",
        "sequences": len(seqs),
        "max_abs_diff": float(np.abs(p32 - p16).max()),
        "mean_abs_diff": float(np.abs(p32 - p16).mean()),
        "mse_fp32": float(m32["mse"].mean()),
        "mse_bf16": float(m16["mse"].mean()),
        "ssim_fp32": float(m32["ssim"].mean()),
        "ssim_bf16": float(m16["ssim"].mean()),
    }


def demo_request(model: ConvLSTMSeq2Seq, seed: int, out_root: Path) -> dict[str, float]:
    """One demo request the way app.py's UI runs it (generated sequence, 10 predicted frames with
    ground truth, hidden states for the inspector), each stage timed. Returns seconds per stage."""
    import gradio as gr
    import pandas as pd

    plot_payload = gr.LinePlot(x="frame", y="value", color="series")
    t = {}
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    seq = data.generate(data.load_digits("test"), rng, 1, CONTEXT + HORIZON, 2, 1.0)[0]  # (20, 64, 64)
    t1 = time.perf_counter()
    context, truth = seq[:CONTEXT], seq[CONTEXT:]
    pred, hidden = inference.predict(model, context, HORIZON, return_hidden=True)
    t2 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="req-", dir=out_root))
    viz.save_sequence_gif(out / "prediction.gif", context, truth, pred)
    np.save(out / "prediction.npy", pred)
    t3 = time.perf_counter()
    per_frame = metrics.all_metrics(pred, truth)
    baseline = metrics.all_metrics(metrics.copy_last_baseline(context, HORIZON), truth)
    report = {"metrics": metrics.summarize(per_frame), "baseline": metrics.summarize(baseline)}
    json.dumps(report)
    t4 = time.perf_counter()
    # What app.py sends to its two gr.LinePlot components (the browser draws the curves).
    rows = pd.DataFrame(viz.metric_rows(per_frame, baseline))
    for name in ("mse", "ssim"):
        plot_payload.postprocess(rows[rows.metric == name])
    t5 = time.perf_counter()
    summary = viz.hidden_state_summary(hidden, model.config, CONTEXT)  # kept for the inspector
    t6 = time.perf_counter()
    # Drawn only while the inspector is open (closed by default): timed apart, not part of a request.
    viz.hidden_state_images(summary)
    t7 = time.perf_counter()
    return {"generate": t1 - t0, "predict": t2 - t1, "gif": t3 - t2, "metrics": t4 - t3, "plot": t5 - t4,
            "hidden_summary": t6 - t5, "inspector_images": t7 - t6}


def bench_demo(cfg: ConvLSTMConfig, runs: int, warmup: int) -> dict:
    model = make_model(cfg)
    root = Path(tempfile.mkdtemp(prefix="framepred-bench-"))
    try:
        for i in range(warmup):
            demo_request(model, 10_000 + i, root)
        stages = [demo_request(model, i, root) for i in range(runs)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    inspector = [s.pop("inspector_images") for s in stages]
    totals = [sum(s.values()) for s in stages]
    med_total = float(np.median(totals))
    out = {"runs": runs, "total": summarize_times(totals), "stages": {}}
    for name in stages[0]:
        med = float(np.median([s[name] for s in stages]))
        out["stages"][name] = {"median_ms": med * 1e3, "share": med / sum(
            float(np.median([s[k] for s in stages])) for k in stages[0])}
    out["rendering_share"] = sum(out["stages"][k]["share"] for k in ("gif", "plot"))
    # With "Inspect the model" open, each request also draws the hidden-state pictures.
    insp = float(np.median(inspector))
    out["inspector_open"] = {"images_median_ms": insp * 1e3,
                             "rendering_share": (sum(out["stages"][k]["median_ms"] for k in ("gif", "plot"))
                                                 + insp * 1e3) / (med_total * 1e3 + insp * 1e3)}
    out["total_ms_median"] = med_total * 1e3
    out["plot_alternatives"] = plot_alternatives(model, runs)
    return out


def plot_alternatives(model: ConvLSTMSeq2Seq, runs: int) -> dict:
    """Server-side cost of other ways to show the metric curves (not what the app does now): the same
    matplotlib figure as PNG (``gr.Plot(format="png")``), and the long-format table that a Gradio
    ``gr.LinePlot`` would receive (the browser then draws it)."""
    import pandas as pd

    seq = sequences(1, seed=7)[0]
    context, truth = seq[:CONTEXT], seq[CONTEXT:]
    pred = inference.predict(model, context, HORIZON)
    per_frame = metrics.all_metrics(pred, truth)
    baseline = metrics.all_metrics(metrics.copy_last_baseline(context, HORIZON), truth)

    def png():
        with io.BytesIO() as buf:
            viz.metric_figure(per_frame, baseline).savefig(buf, format="png")

    def table():
        rows = [(k + 1, float(v[k]), name, series) for series, d in (("model", per_frame), ("copy last frame", baseline))
                for name, v in d.items() if name in ("mse", "ssim") for k in range(len(v))]
        pd.DataFrame(rows, columns=["frame", "value", "metric", "series"])

    return {"matplotlib_png": summarize_times(time_runs(png, runs, 1)),
            "lineplot_dataframe": summarize_times(time_runs(table, runs, 1))}


def bench_training(cfg: ConvLSTMConfig, batch: int, steps: int, seqs: np.ndarray) -> dict:
    """Sequences per second of full training steps (as train/train.py's ``training_step``)."""
    out = {"batch": batch, "steps": steps}
    seq = torch.from_numpy(np.ascontiguousarray(np.resize(seqs, (batch, *seqs.shape[1:]))))[:, :, None]
    ctx, tgt = seq[:, :CONTEXT], seq[:, CONTEXT:]
    truth = seq[:, 1:]
    for name, dtype in (("fp32", None), ("bf16_autocast", torch.bfloat16)):
        model = make_model(cfg).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        gen = torch.Generator().manual_seed(0)

        def step():
            mask = torch.rand(batch, HORIZON - 1, generator=gen) < 0.5  # scheduled sampling
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                pred = model(ctx, HORIZON, target=tgt, teacher_mask=mask, return_context=True, clamp=False)
                loss = F.mse_loss(pred.float(), truth)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        ts = time_runs(step, steps, 1)
        s = summarize_times(ts)
        out[name] = {**s, "sequences_per_s": batch / (s["median_ms"] / 1e3)}
    return out


# --------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------
def markdown(r: dict) -> str:
    m, inf, demo, tr, mm = r["machine"], r["inference"], r["demo"], r["training"], r["matmul"]
    lines = [
        f"Benchmarks{' (QUICK mode: tiny sizes, numbers not meaningful)' if r['quick'] else ''}: "
        f"{m['date'][:10]}, {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads.",
        "",
        "| measurement | result |",
        "|---|---|",
        f"| matmul rate (best of n = {', '.join(map(str, mm['sizes']))}; torch.mm and oneDNN) | "
        f"fp32 {mm['fp32']['gflops_best']:.0f} GFLOP/s, bf16 {mm['bf16']['gflops_best']:.0f} GFLOP/s |",
    ]
    for label in ("default", "default_bf16", "seed"):
        v = inf[label]
        lat, tp = v["latency_batch1"], v["throughput"]
        lines.append(
            f"| `{v['preset']}` {v['dtype']} 10 -> 10, batch 1 ({v['parameters'] / 1e6:.2f} M params, "
            f"{v['gflop_per_prediction']:.2f} GFLOP) | median {lat['median_ms']:.1f} ms, "
            f"p90 {lat['p90_ms']:.1f} ms ({lat['runs']} runs); {v['achieved_gflops_batch1']:.0f} GFLOP/s = "
            f"{100 * v['share_of_matmul_rate_batch1']:.0f}% of {v['matmul_reference']} matmul |")
        lines.append(
            f"| `{v['preset']}` {v['dtype']} batch {tp['batch']} | {tp['sequences_per_s']:.1f} sequences/s "
            f"({tp['runs']} runs); {v['achieved_gflops_batch']:.0f} GFLOP/s = "
            f"{100 * v['share_of_matmul_rate_batch']:.0f}% of {v['matmul_reference']} matmul |")
    lines.append(f"| `seed` / `default` (fp32) | {inf['seed_over_default_latency']:.0f}x latency, "
                 f"{inf['seed_over_default_throughput']:.0f}x throughput |")
    acc = inf["bf16_accuracy"]
    lines.append(f"| bf16 vs fp32 predictions ({acc['weights']} weights, {acc['sequences']} seqs) | "
                 f"max abs diff {acc['max_abs_diff']:.3f}, MSE {acc['mse_fp32']:.2f} -> {acc['mse_bf16']:.2f}, "
                 f"SSIM {acc['ssim_fp32']:.4f} -> {acc['ssim_bf16']:.4f} |")
    st = demo["stages"]
    parts = ", ".join(f"{k} {v['median_ms']:.1f} ms ({100 * v['share']:.0f}%)" for k, v in st.items())
    lines.append(f"| demo request (`default`, {demo['runs']} runs) | median {demo['total_ms_median']:.0f} ms, "
                 f"p90 {demo['total']['p90_ms']:.0f} ms; {parts}; rendering "
                 f"{100 * demo['rendering_share']:.0f}% |")
    insp = demo["inspector_open"]
    lines.append(f"| ... with \"Inspect the model\" open | + hidden-state pictures {insp['images_median_ms']:.1f} ms; "
                 f"rendering {100 * insp['rendering_share']:.0f}% |")
    alt = demo["plot_alternatives"]
    lines.append(f"| metric plot alternatives (server side) | matplotlib PNG "
                 f"{alt['matplotlib_png']['median_ms']:.1f} ms; table for `gr.LinePlot` "
                 f"{alt['lineplot_dataframe']['median_ms']:.1f} ms |")
    lines.append(f"| training `default`, batch {tr['batch']} | fp32 {tr['fp32']['sequences_per_s']:.1f} seq/s, "
                 f"bf16 autocast {tr['bf16_autocast']['sequences_per_s']:.1f} seq/s |")
    load = ", ".join(f"{k} {v:.2f}" for k, v in r["other_cpu_load_cores"].items() if v is not None)
    lines.append(f"| total benchmark time; CPU used by other processes (cores) | {r['seconds']:.0f} s; {load} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few runs (seconds; for tests)")
    ap.add_argument("--json", help="write the results here (default in full mode: benchmarks/results.json)")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--skip-seed", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    p = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    cfgs = configs(args.quick)
    trained = REPO / "checkpoints" / "default"
    trained = trained if not args.quick and (trained / "model.safetensors").is_file() else None
    seqs = sequences(max(p["tput_batch"], p["accuracy_seqs"], 2))
    result: dict = {"quick": args.quick, "machine": machine_info()}
    sections = {
        "matmul": lambda: bench_matmul(p["matmul_sizes"], p["matmul_runs"]),
        "inference": lambda: bench_inference(cfgs, p, result["matmul"], seqs, trained),
        "demo": lambda: bench_demo(cfgs["default"], p["demo_runs"], p["warmup"]),
        "training": lambda: bench_training(cfgs["default"], p["train_batch"], p["train_steps"], seqs),
    }
    result["other_cpu_load_cores"] = {}
    for name, fn in sections.items():
        with CpuWatch() as watch:
            result[name] = fn()
        result["other_cpu_load_cores"][name] = watch.other_cores
    result["seconds"] = time.perf_counter() - t0
    result["markdown"] = markdown(result)
    print(result["markdown"])
    path = args.json or (None if args.quick else str(REPO / "benchmarks" / "results.json"))
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {path}")
    return result


if __name__ == "__main__":
    main()
