"""framepred benchmarks: prediction latency and throughput, one demo request, training speed, FLOPs.

    python benchmarks/run.py                      # full run (< 5 minutes on 2 CPU cores)
    python benchmarks/run.py --quick --json q.json # seconds: tiny sizes, few runs (for the tests)

Prints a markdown table and writes every number as JSON (``--json``, default
``benchmarks/results.json`` in full mode). Sections:

* ``machine``: date, CPU model, cores, torch/numpy versions, threads.
* ``matmul``: this machine's measured rate of a large fp32 and bf16 matrix product, the practical
  hardware limit that the model's achieved GFLOP/s is compared with.
* ``inference``: 10 -> 10 prediction through ``framepred.inference.predict`` (numpy in, numpy out)
  for the ``v3`` (the shipped default model's design), ``v2`` and ``seed`` presets
  (random weights; timing does not depend on them): FLOPs
  per prediction (``torch.utils.flop_counter``), batch-1 latency (median and p90), batch-32
  throughput, achieved GFLOP/s and its share of the matmul rate; ``v2`` and ``v3`` also in bf16, with the
  accuracy cost against float32 (of the shipped ``checkpoints/default``).
* ``demo``: one demo request (Generate tab) as the app's UI makes it: one call of the serving
  function its handlers call, ``pipeline.predict(sources.generated(...), horizon, models=...,
  hidden=True)`` (sequence, model, GIF + .npy, metrics of the model and the copy-last baseline, the
  other downloads: MP4, PNG strip, metrics CSV). Its generate / predict / gif / metrics /
  downloads parts are timed by wrapping the functions it calls, the rest of it is
  ``pipeline_other`` (``demo.note``); the median time of each and its share. Also: a
  compare request (two models), the frame viewer per slider step (``pipeline.frame_view``, what the
  slider calls), the hidden-state pictures (drawn only while "Inspect the model" is open), and
  ``plot_alternatives`` (a server-side matplotlib figure, not what the app does). The demo serves
  random-weight checkpoints ``default`` and ``other`` of the ``v3`` preset (the design of the
  shipped ``checkpoints/default``) from a temporary ``FRAMEPRED_CHECKPOINTS_DIR``.
* ``training``: training steps of the ``v2`` preset (batch 16, teacher forcing, context
  outputs, MSE, backward, AdamW) in float32 and under bf16 autocast, in sequences per second.
* ``other_cpu_load_cores``: CPU that other processes used during each section (from /proc/stat);
  anything well above 0 means the timings of that section were disturbed.

Every timing is ``framepred.timing.latency_summary`` (n, median, p90, p95, mean, min, max); rates use
the median.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import io
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from framepred import data, fast_conv, inference, metrics, viz  # noqa: E402
from framepred.config import ConvLSTMConfig  # noqa: E402
from framepred.model import ConvLSTMSeq2Seq  # noqa: E402
from framepred.serving import models, pipeline, sources  # noqa: E402
from framepred.timing import latency_summary  # noqa: E402

CONTEXT, HORIZON = 10, 10

# Run counts and sizes. Full mode: >= 30 batch-1 runs per preset after warm-up; the seed's batch of 32
# takes ~15-20 s on 2 cores, so its throughput gets only 3 runs. The whole run takes ~2 minutes there.
FULL = dict(matmul_sizes=(1024, 2048), matmul_runs=10, warmup=3, lat_runs={"v2": 100, "v3": 100, "seed": 30},
            tput_batch=32, tput_runs={"v2": 10, "v3": 10, "seed": 3}, demo_runs=30, train_batch=16,
            train_steps=6, accuracy_seqs=16)
QUICK = dict(matmul_sizes=(256,), matmul_runs=3, warmup=1, lat_runs={"v2": 3, "v3": 3, "seed": 3},
             tput_batch=4, tput_runs={"v2": 2, "v3": 2, "seed": 1}, demo_runs=2, train_batch=2,
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
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
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
    """:func:`framepred.timing.latency_summary` of durations in seconds."""
    return latency_summary(t * 1e3 for t in ts)


def time_runs(fn, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def configs(quick: bool, names: tuple[str, ...] = ("v2", "v3", "seed")) -> dict[str, ConvLSTMConfig]:
    """The timed designs (``framepred.config.PRESETS`` names), narrowed to 8 channels when ``quick``."""
    cfgs = {name: ConvLSTMConfig.preset_config(name) for name in names}
    if quick:  # same architectures, much narrower
        for name in cfgs:
            cfgs[name] = ConvLSTMConfig(**{**cfgs[name].to_dict(), "hidden_dims": (8, 8)})
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
    was = fast_conv._FAST_CONV["enabled"]
    fast_conv.set_fast_conv(False)
    try:
        with FlopCounterMode(display=False) as fc:
            inference.predict(model, context, HORIZON, **kw)
    finally:
        fast_conv.set_fast_conv(was)
    return int(fc.get_total_flops())


def bench_inference(cfgs: dict, p: dict, peak: dict, seqs: np.ndarray, trained: Path | None) -> dict:
    out = {}
    # v3's design (patches of 8 x 128) beside v2's: the same budget (<= 10.8 GFLOP).
    variants = [("v2", "v2", {}), ("v2_bf16", "v2", {"dtype": torch.bfloat16}),
                ("v3", "v3", {}), ("v3_bf16", "v3", {"dtype": torch.bfloat16}), ("seed", "seed", {})]
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
    out["seed_over_v2_latency"] = (out["seed"]["latency_batch1"]["median_ms"]
                                   / out["v2"]["latency_batch1"]["median_ms"])
    out["seed_over_v2_throughput"] = (out["v2"]["throughput"]["sequences_per_s"]
                                      / out["seed"]["throughput"]["sequences_per_s"])
    # The shipped default's weights when there are (full mode), else random ones of its design.
    out["bf16_accuracy"] = bf16_accuracy(cfgs["v3"], seqs[: p["accuracy_seqs"]], trained)
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


# -- demo request: the app's own serving functions, timed -------------------------------------------
DEMO_MODELS = ("default", "other")  # checkpoints the demo section serves (random weights, like the rest)
DEMO_NOTE = ("A request is one call of pipeline.predict, the serving function the app's UI handlers call: it "
             "makes the sequence, runs the model, writes the GIF and the .npy, computes the metrics and writes the "
             "other downloads (MP4, PNG strip: pipeline._media; the metrics CSV); its parts are timed by wrapping the "
             "functions it calls "
             "(sources.generated_sequence, pipeline.run_models, viz.save_sequence_gif, metrics.all_metrics, "
             "pipeline._media), and pipeline_other is the rest of that call "
             "(checks, model lookup, .npy, CSV, card files). Nothing of the request is re-implemented here.")


class StageClock:
    """Seconds spent in the functions that ``pipeline.predict`` calls, by wrapping them while one
    request runs (the calls are the app's own; the originals are put back on exit)."""

    TARGETS = (("generate", sources, "generated_sequence"), ("predict", pipeline, "run_models"),
               ("gif", viz, "save_sequence_gif"), ("metrics", metrics, "all_metrics"),
               ("downloads", pipeline, "_media"))

    def __enter__(self):
        self.seconds = {name: 0.0 for name, _, _ in self.TARGETS}
        self._saved = [(module, attr, getattr(module, attr)) for _, module, attr in self.TARGETS]
        for (name, module, attr), (_, _, original) in zip(self.TARGETS, self._saved):
            setattr(module, attr, self._timed(name, original))
        return self

    def _timed(self, name: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
        return wrapper

    def __exit__(self, *exc):
        for module, attr, original in self._saved:
            setattr(module, attr, original)
        return False


@contextlib.contextmanager
def served_models(cfg: ConvLSTMConfig, root: Path):
    """A checkpoints folder with ``default`` and ``other`` (random weights of ``cfg``) that the
    serving layer loads as the app would (``FRAMEPRED_CHECKPOINTS_DIR``; environment restored after)."""
    for i, key in enumerate(DEMO_MODELS):
        make_model(cfg, seed=i).save_pretrained(root / key)
    saved = {k: os.environ.get(k) for k in ("FRAMEPRED_CHECKPOINTS_DIR", "FRAMEPRED_MODEL")}
    os.environ.pop("FRAMEPRED_MODEL", None)
    os.environ["FRAMEPRED_CHECKPOINTS_DIR"] = str(root)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def demo_request(seed: int, out_root: Path, keys=DEMO_MODELS[:1]) -> tuple[dict[str, float], dict[str, float], dict]:
    """One UI request (Generate tab, 2 digits, speed 1): ``pipeline.predict`` called as app.py's UI
    handlers call it, timed as one call and by its parts (:class:`StageClock`). Two ``keys``: a
    compare request.

    Returns (stages: non-overlapping seconds that add up to the call, extras: the inspector's
    hidden-state pictures, drawn only while it is open, and the frame viewer's state)."""
    out = Path(tempfile.mkdtemp(prefix="req-", dir=out_root))
    t0 = time.perf_counter()
    with StageClock() as clock:
        result = pipeline.predict(sources.generated(seed, 2, 1.0), HORIZON, models=list(keys), hidden=True,
                                  out_dir=out)
    total = time.perf_counter() - t0
    first = result.runs[0]
    t1 = time.perf_counter()
    viz.hidden_state_images(viz.hidden_state_summary(first.hidden, first.config, CONTEXT))
    inspector = time.perf_counter() - t1
    stages = {**clock.seconds, "pipeline_other": max(0.0, total - sum(clock.seconds.values()))}
    return stages, {"inspector_images": inspector}, pipeline.frame_state(result)


RENDERING = ("gif",)  # stages that draw something for the browser


def stage_summary(runs: list[tuple[dict, dict, dict]]) -> dict:
    """Medians of a list of ``demo_request`` results: per stage (and its share) and the total."""
    stages = [r[0] for r in runs]
    totals = [sum(s.values()) for s in stages]
    meds = {k: float(np.median([s[k] for s in stages])) for k in stages[0]}
    out = {"runs": len(runs), "total": summarize_times(totals), "total_ms_median": float(np.median(totals)) * 1e3,
           "stages": {k: {"median_ms": v * 1e3, "share": v / sum(meds.values())} for k, v in meds.items()}}
    out["rendering_share"] = sum(out["stages"][k]["share"] for k in RENDERING)
    return out


def frame_viewer(state: dict, runs: int) -> dict:
    """The frame slider (app.show_frame = ``pipeline.frame_view``): one call per step, every step."""
    steps = range(1, CONTEXT + HORIZON + 1)
    ts = time_runs(lambda: [pipeline.frame_view(state, t) for t in steps], runs, 1)
    per_step = summarize_times([t / len(steps) for t in ts])
    return {"steps": len(steps), "models": len(state["preds"]), **per_step}


def bench_demo(cfg: ConvLSTMConfig, runs: int, warmup: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="framepred-bench-"))
    try:
        with served_models(cfg, root / "checkpoints"):
            for keys in (DEMO_MODELS[:1], DEMO_MODELS):
                for i in range(warmup):
                    demo_request(10_000 + i, root, keys)
            single = [demo_request(i, root) for i in range(runs)]
            pair = [demo_request(i, root, DEMO_MODELS) for i in range(runs)]
            viewer = {"one_model": frame_viewer(single[-1][2], runs), "two_models": frame_viewer(pair[-1][2], runs)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = stage_summary(single)
    out["precision"] = models.precision(torch.device("cpu"))  # what the app runs in
    out["note"] = DEMO_NOTE
    # With "Inspect the model" open, each request also draws the hidden-state pictures.
    insp = float(np.median([r[1]["inspector_images"] for r in single])) * 1e3
    out["inspector_open"] = {"images_median_ms": insp,
                             "rendering_share": (sum(out["stages"][k]["median_ms"] for k in RENDERING) + insp)
                             / (out["total_ms_median"] + insp)}
    out["compare"] = {"models": list(DEMO_MODELS), **stage_summary(pair)}
    out["compare"]["over_single"] = out["compare"]["total_ms_median"] / out["total_ms_median"]
    out["frame_viewer"] = viewer
    out["plot_alternatives"] = plot_alternatives(make_model(cfg), runs)
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
        pairs = (("model", per_frame), ("copy last frame", baseline))
        rows = [(k + 1, float(v[k]), name, series) for series, d in pairs
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
    """The results as one markdown table of (measurement, result) rows, under a line on the machine."""
    m, inf, demo, tr, mm = r["machine"], r["inference"], r["demo"], r["training"], r["matmul"]
    rows = [(f"matmul rate (best of n = {', '.join(map(str, mm['sizes']))}; torch.mm and oneDNN)",
             f"fp32 {mm['fp32']['gflops_best']:.0f} GFLOP/s, bf16 {mm['bf16']['gflops_best']:.0f} GFLOP/s")]
    for label in ("v2", "v2_bf16", "v3", "v3_bf16", "seed"):
        v = inf[label]
        lat, tp = v["latency_batch1"], v["throughput"]
        share = f"% of {v['matmul_reference']} matmul"
        rows += [
            (f"`{v['preset']}` {v['dtype']} 10 -> 10, batch 1 ({v['parameters'] / 1e6:.2f} M params, "
             f"{v['gflop_per_prediction']:.2f} GFLOP)",
             f"median {lat['median_ms']:.1f} ms, p90 {lat['p90_ms']:.1f} ms ({lat['n']} runs); "
             f"{v['achieved_gflops_batch1']:.0f} GFLOP/s = {100 * v['share_of_matmul_rate_batch1']:.0f}{share}"),
            (f"`{v['preset']}` {v['dtype']} batch {tp['batch']}",
             f"{tp['sequences_per_s']:.1f} sequences/s ({tp['n']} runs); {v['achieved_gflops_batch']:.0f} GFLOP/s = "
             f"{100 * v['share_of_matmul_rate_batch']:.0f}{share}"),
        ]
    acc, insp, cmp = inf["bf16_accuracy"], demo["inspector_open"], demo["compare"]
    fv, alt = demo["frame_viewer"], demo["plot_alternatives"]

    def stages(d: dict) -> str:
        return ", ".join(f"{k} {v['median_ms']:.1f} ms ({100 * v['share']:.0f}%)" for k, v in d["stages"].items())

    rows += [
        ("`seed` / `v2` (fp32)", f"{inf['seed_over_v2_latency']:.0f}x latency, "
                                 f"{inf['seed_over_v2_throughput']:.0f}x throughput"),
        (f"bf16 vs fp32 predictions ({acc['weights']} weights, {acc['sequences']} seqs)",
         f"max abs diff {acc['max_abs_diff']:.3f}, MSE {acc['mse_fp32']:.2f} -> {acc['mse_bf16']:.2f}, "
         f"SSIM {acc['ssim_fp32']:.4f} -> {acc['ssim_bf16']:.4f}"),
        (f"demo request (Generate tab: one `pipeline.predict` call, as the UI makes it; `default` "
         f"(v3 design) in {demo['precision']}, {demo['runs']} runs)",
         f"median {demo['total_ms_median']:.0f} ms, p90 {demo['total']['p90_ms']:.0f} ms; {stages(demo)} (parts "
         f"timed by wrapping the functions it calls, see `demo.note`); rendering {100 * demo['rendering_share']:.0f}%"),
        ('... with "Inspect the model" open', f"+ hidden-state pictures {insp['images_median_ms']:.1f} ms; "
                                              f"rendering {100 * insp['rendering_share']:.0f}%"),
        (f"compare request (`{'` + `'.join(cmp['models'])}`, {cmp['runs']} runs)",
         f"median {cmp['total_ms_median']:.0f} ms ({cmp['over_single']:.2f}x one model); {stages(cmp)}"),
        (f"frame viewer (`pipeline.frame_view`, per slider step, all {fv['one_model']['steps']} steps)",
         f"one model {fv['one_model']['median_ms']:.2f} ms, two models {fv['two_models']['median_ms']:.2f} ms"),
        ("metric plot alternatives (server side)",
         f"matplotlib PNG {alt['matplotlib_png']['median_ms']:.1f} ms; "
         f"table for `gr.LinePlot` {alt['lineplot_dataframe']['median_ms']:.1f} ms"),
        (f"training `v2`, batch {tr['batch']}",
         f"fp32 {tr['fp32']['sequences_per_s']:.1f} seq/s, "
         f"bf16 autocast {tr['bf16_autocast']['sequences_per_s']:.1f} seq/s"),
        ("total benchmark time; CPU used by other processes (cores)",
         f"{r['seconds']:.0f} s; " + ", ".join(f"{k} {v:.2f}" for k, v in r["other_cpu_load_cores"].items()
                                                if v is not None)),
    ]
    head = (f"Benchmarks{' (QUICK mode: tiny sizes, numbers not meaningful)' if r['quick'] else ''}: "
            f"{m['date'][:10]}, {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads.")
    return "\n".join([head, "", "| measurement | result |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


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
        # The demo serves what the app's default model is: the v3 design (checkpoints/default).
        "demo": lambda: bench_demo(cfgs["v3"], p["demo_runs"], p["warmup"]),
        "training": lambda: bench_training(cfgs["v2"], p["train_batch"], p["train_steps"], seqs),
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
