"""One prepared GPU run: continue a model on one CUDA device for a fixed wall-clock budget.

On a CUDA machine with torch, numpy and safetensors (nothing else: no gradio, no huggingface_hub),
from the repository root, within a 10-minute command:

    PYTHONPATH=. python train/gpu_run.py --init train/resume/v3/compact --out "$OUT/v3-gpu" --minutes 8

In order, all inside ``--minutes`` (start-up to the last write):

1. Load ``--init``: a compact state (train/resume_state.py: the EMA exactly, the raw weights as
   EMA + bf16 delta; also what this script writes, so runs chain) or an exported model folder such
   as ``checkpoints/default`` (raw = EMA = its weights).
2. Validate the EMA as train.py does (``framepred.data.validation_set``, never the test set; float32,
   TF32 off): at the start this reproduces the validation MSE the init recorded (``start_check``).
3. Time batch-1 prediction (10 -> 10) on the device in float32 and bf16, and check that CPU and
   device predictions of the same weights agree (``timing``, ``agreement``).
4. Train: fresh sequences made on the device by framepred.data's rule (train/gpu_data.py; the bar's
   stream by default, as ``train.py --data bar``), train.py's MSE over the 19 next-frame predictions
   (``--predicted-weight`` weights the 10 predicted ones), bf16 autocast, fused AdamW (its moments start at
   zero: the warm-up re-warms them), gradient clipping, EMA. The learning rate warms up linearly over
   ``--warmup-steps``, stays, and decays (cosine to 2 %) over the last ``--cooldown`` of the training
   time, by the wall clock. No host sync per step: the loss is read every ``--log-every`` steps; a
   non-finite one, or one over ``--diverge-factor`` x the lowest so far, restores the weights of
   the last good reading and halves the learning rate.
5. Validate the EMA and the raw weights in the middle and at the end.
6. Every ``--save-every`` seconds and at the end, write ``--out`` (7 files, each <= 16 MiB, ~27 MB
   for v3, every one atomically): the compact state (``model.safetensors`` = the EMA in bf16, which
   ``ConvLSTMSeq2Seq.from_pretrained(out)`` loads as it is; ``model-low.safetensors`` completes it to
   float32; ``delta.safetensors``; ``config.json``; ``manifest.json``), ``metrics.json`` (settings,
   validations, timing, agreement, the loss curve) and ``log.txt``. The float32 model for evaluation
   and export: ``python train/resume_state.py export-compact OUT DIR``.

The CPU test (tests/test_gpu_run.py, seconds): ``--preset tiny --device cpu --minutes 0.05 --min-steps 4``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import platform
import sys
import time
import types
from pathlib import Path

T_START = time.time()  # the budget counts from here

if __name__ == "__main__" and not __package__:  # run by path: import siblings as the package (train/__init__.py)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from framepred import data as fdata  # noqa: E402
from framepred.config import ConvLSTMConfig, read_config_file  # noqa: E402
from framepred.metrics import frame_mae, frame_mse, frame_ssim  # noqa: E402
from train import gpu_data, resume_state  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_INIT = REPO / "checkpoints" / "default"
BASE_LR, BASE_BATCH = 1e-3, 16  # v3's stable run: the learning rate scales with sqrt(batch / 16)
START_TOLERANCE = 1e-3  # relative: the start validation against the init's recorded one


def _model_class():
    """framepred's ConvLSTMSeq2Seq, also where huggingface_hub is missing or of a version whose mixin
    framepred.model cannot subclass.

    Its Hub mixin only adds Hub upload and download, which this script never uses; on such a machine
    a stand-in base class lets framepred.model import (this process only)."""
    try:
        from framepred.model import ConvLSTMSeq2Seq

        return ConvLSTMSeq2Seq
    except Exception as exc:  # ImportError, or a TypeError from another version's class keywords
        print(f"framepred.model with this huggingface_hub failed ({exc!r}); using a stand-in mixin", flush=True)
    stub = types.ModuleType("huggingface_hub")

    class PyTorchModelHubMixin:  # accepts the mixin's class keywords (library_name, tags)
        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__()

    stub.PyTorchModelHubMixin = PyTorchModelHubMixin
    sys.modules["huggingface_hub"] = stub
    sys.modules.pop("framepred.model", None)  # a half-made import from the try above
    from framepred.model import ConvLSTMSeq2Seq

    return ConvLSTMSeq2Seq


# ------------------------------------------------------------------------------------------------
# Presets and arguments
# ------------------------------------------------------------------------------------------------
PRESETS = {
    # The real run: v3 at a large batch on one H200.
    "default": dict(batch=256, warmup_steps=200, val_size=fdata.VALIDATION_SIZE, val_reach=96, val_batch=80,
                    log_every=25, timing_reps=30, agree_size=8, threads=None),
    # The CPU test: a fresh tiny model (unless --init), everything small.
    "tiny": dict(batch=4, warmup_steps=2, val_size=6, val_reach=3, val_batch=6, log_every=2, timing_reps=2,
                 agree_size=2, threads=1),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (rewritten every --save-every seconds)")
    p.add_argument("--init", help="compact state or exported model folder (default: checkpoints/default; "
                                  "tiny preset: a fresh tiny model)")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS), help="sizes; tiny for the CPU test")
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of the whole run")
    p.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when available)")
    p.add_argument("--batch", type=int, help="sequences per step (default: the preset's)")
    p.add_argument("--lr", type=float, help=f"peak learning rate (default {BASE_LR:g} x sqrt(batch / {BASE_BATCH}))")
    p.add_argument("--warmup-steps", type=int, help="linear warm-up from 0 (default: the preset's)")
    p.add_argument("--cooldown", type=float, default=0.25, help="fraction of the training time of the decay")
    p.add_argument("--ema-decay", type=float, default=0.998,
                   help="per step: 0.998 averages ~500 steps, at batch 256 the sequences of 8000 of "
                        "train.py's (decay 0.999 at batch 16: 1000), short enough to follow the cooldown")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--diverge-factor", type=float, default=3.0,
                   help="a loss reading above this multiple of the lowest so far counts as divergence")
    p.add_argument("--precision", default="bf16", choices=["bf16", "fp32"], help="training autocast")
    p.add_argument("--data", default="bar", choices=gpu_data.MIXES, help="the training stream, as train.py --data")
    p.add_argument("--shifted-fraction", type=float, default=fdata.BAR_SHIFTED_FRACTION,
                   help="bar stream: the fraction of its standard and same-speed sequences on a sub-pixel-shifted "
                        "grid (framepred.data.draw_bar_settings)")
    p.add_argument("--same-speed-fraction", type=float, default=fdata.BAR_SAME_SPEED_FRACTION,
                   help="share of --data bar's stream with every digit at one speed")
    p.add_argument("--same-speed-range", type=float, nargs=2, default=list(fdata.SAME_SPEED_RANGE),
                   metavar=("LO", "HI"), help="that share's speeds (log-uniform); a faster one weights the fast cells "
                   "(the bar's speed-3 cell)")
    p.add_argument("--predicted-weight", type=float, default=1.0,
                   help="the loss's weight on the predicted frames against the context's next-frame predictions "
                        "(1: train.py's plain MSE over all 19; the metrics score only the predicted ones)")
    p.add_argument("--steps", type=int,
                   help="train exactly this many steps, scheduled by step instead of the clock (branches compared "
                        "at equal steps on a CPU); --minutes then only names the run")
    p.add_argument("--seed", type=int, default=0, help="data stream seed (plus the init's step)")
    p.add_argument("--save-every", type=float, default=60.0, help="seconds between writes of --out")
    p.add_argument("--log-every", type=int, help="steps between loss readings (host syncs)")
    p.add_argument("--val-size", type=int, help="validation sequences (train.py's --val-size)")
    p.add_argument("--val-reach", type=int, help="reach-test sequences (train.py's --val-reach)")
    p.add_argument("--timing-reps", type=int, help="batch-1 timing calls per precision (0: no timing, no "
                   "CPU-vs-device check, as for a CPU branch; default: the preset's)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; tiny preset: 1)")
    p.add_argument("--min-steps", type=int, default=0,
                   help="train at least this many steps whatever the clock says (tests on a busy machine)")
    args = p.parse_args(argv)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.lr is None:
        args.lr = BASE_LR * math.sqrt(args.batch / BASE_BATCH)
    if args.minutes <= 0 or args.batch < 1 or not 0 <= args.cooldown <= 1 or not 0 <= args.ema_decay < 1:
        p.error("need --minutes > 0, --batch >= 1, --cooldown in [0, 1], --ema-decay in [0, 1)")
    if not 0 <= args.shifted_fraction <= 1 or (args.shifted_fraction > 0 and args.data != "bar"):
        p.error("--shifted-fraction is a fraction of --data bar's stream, in [0, 1]")
    lo, hi = args.same_speed_range
    if not 0 <= args.same_speed_fraction <= 1 - fdata.BAR_STANDARD_FRACTION or not 0 < lo <= hi:
        p.error(f"need --same-speed-fraction in [0, {1 - fdata.BAR_STANDARD_FRACTION:g}] and --same-speed-range "
                "0 < LO <= HI")
    args.same_speed_range = (lo, hi)
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be >= 1")
    if not args.predicted_weight > 0:
        p.error("--predicted-weight must be > 0")
    return args


def frame_loss(pred: torch.Tensor, target: torch.Tensor, horizon: int, predicted_weight: float = 1.0) -> torch.Tensor:
    """MSE over next-frame predictions (B, T, C, H, W), the last ``horizon`` frames weighted ``predicted_weight``
    against the context's; the weights average 1, so 1 is train.py's plain MSE."""
    if predicted_weight == 1.0:
        return F.mse_loss(pred, target)
    t = pred.shape[1]
    w = torch.ones(t, device=pred.device)
    w[t - horizon :] = predicted_weight
    w = (w / w.mean()).view(1, t, 1, 1, 1)  # (1, T, 1, 1, 1)
    return (w * (pred - target).square()).mean()


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------
def load_init(args: argparse.Namespace) -> tuple[ConvLSTMConfig, dict, dict, dict]:
    """(config, EMA weights, raw weights, what is known about the init: source, step, val_mse)."""
    from safetensors.torch import load_file

    if args.init is None and args.preset == "tiny":
        torch.manual_seed(args.seed)
        cfg = ConvLSTMConfig.preset_config("tiny")
        weights = _model_class()(cfg).state_dict()
        return cfg, weights, copy.deepcopy(weights), {"source": "fresh tiny model", "global_step": 0}
    folder = Path(args.init) if args.init else DEFAULT_INIT
    if resume_state.is_compact(folder):
        ema, raw, config, manifest = resume_state.read_compact(folder)
        info = {"source": str(folder), "kind": "compact state", "global_step": int(manifest["global_step"]),
                "val_mse": manifest.get("val_mse"), "val_size": manifest.get("val_size", fdata.VALIDATION_SIZE)}
        return ConvLSTMConfig(**{k: v for k, v in config.items() if k in ConvLSTMConfig.__dataclass_fields__}), \
            ema, raw if raw is not None else copy.deepcopy(ema), info
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise SystemExit(f"--init {folder}: neither a compact state nor a model folder "
                         "(config.json + model.safetensors)")
    cfg = read_config_file(folder / "config.json")
    weights = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    info = {"source": str(folder), "kind": "model folder", "global_step": 0}
    training = folder / "training.json"
    if training.is_file():  # train.py's export record: its step and its validation score
        t = json.loads(training.read_text())
        info.update(global_step=int(t.get("global_step") or 0), val_mse=t.get("val_mse"), val_size=t.get("val_size"))
    return cfg, weights, copy.deepcopy(weights), info


# ------------------------------------------------------------------------------------------------
# Validation, timing, agreement
# ------------------------------------------------------------------------------------------------
class FullPrecision:
    """float32 without TF32 on CUDA (validation and the agreement check compare with the CPU's)."""

    def __enter__(self):
        self.saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved


@functools.lru_cache(maxsize=4)
def _sets(val_size: int, val_reach: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """train.py's validation set, reach tests (2 digits at speed 3 as train.py's, and 3 digits: the
    bar's hardest cell, on the reach test's own seed) and the standard third half a pixel over
    (``fdata.validation_shifted``) as float32 ``(N, 20, 1, 64, 64)``, made once."""
    unit = lambda a: fdata.to_unit_float(a)[:, :, None]  # noqa: E731
    reach = {"reach_s3": unit(fdata.reach_set(val_reach)),
             "reach_s3_d3": unit(fdata.reach_set(val_reach, n_digits=3))} if val_reach else {}
    return unit(fdata.validation_set(val_size)), reach, unit(fdata.validation_shifted(val_size))


def _rollouts(model, seqs: np.ndarray, device: torch.device, batch: int, context: int, horizon: int):
    """The free-running rollouts of ``seqs`` ``(N, T, 1, H, W)`` in batches: float32 numpy
    (prediction, target) pairs, each ``(B, horizon, H, W)``."""
    for i in range(0, len(seqs), batch):
        x = torch.from_numpy(seqs[i : i + batch]).to(device)  # (B, T, 1, H, W)
        p = model(x[:, :context], horizon).float().cpu().numpy()[:, :, 0]  # (B, h, H, W)
        yield p, x[:, context : context + horizon].cpu().numpy()[:, :, 0]


@torch.no_grad()
def validate(model, device: torch.device, val_size: int, val_reach: int, batch: int,
             context: int = fdata.CONTEXT, horizon: int = fdata.SEQ_LEN - fdata.CONTEXT) -> dict:
    """train.py's validation (FramePredModule.validation_step, on_validation_epoch_end, _reach_scores):
    per-sequence MSE / MAE / SSIM of the free-running 10-frame rollout, its standard third apart,
    the mixed part against blank frames, the reach test at speed 3; and, beyond train.py, the standard
    third half a pixel over (``mse_standard_shifted``, ``half_pixel_change``: the bar's check on
    validation sequences) and the reach test with 3 digits (``reach_s3_d3``: the bar's speed-3 cell)."""
    model.eval()
    seqs, reach, shifted = _sets(val_size, val_reach)  # the validation set's standard third first
    n_std = val_size // 3
    per: dict[str, list[np.ndarray]] = {"mse": [], "mae": [], "ssim": [], "blank": []}
    with FullPrecision():
        for p, t in _rollouts(model, seqs, device, batch, context, horizon):
            for name, value in (("mse", frame_mse(p, t, reduce=False)), ("mae", frame_mae(p, t, reduce=False)),
                                ("ssim", frame_ssim(p, t, reduce=False)),
                                ("blank", frame_mse(np.zeros_like(t), t, reduce=False))):
                per[name].append(value.mean(axis=1))  # (B,)
        out = {name: np.concatenate(v).astype(np.float64) for name, v in per.items()}
        result = {"mse": out["mse"].mean(), "mae": out["mae"].mean(), "ssim": out["ssim"].mean()}
        if n_std:
            result.update(mse_standard=out["mse"][:n_std].mean(), ssim_standard=out["ssim"][:n_std].mean())
            err = [frame_mse(p, t, reduce=False) for p, t in _rollouts(model, shifted, device, batch, context, horizon)]
            shifted_mse = float(np.concatenate(err).astype(np.float64).mean())
            result.update(mse_standard_shifted=shifted_mse,
                          half_pixel_change=shifted_mse / max(result["mse_standard"], 1e-12) - 1.0)
        if val_size > n_std:
            result.update(mse_mixed=out["mse"][n_std:].mean(),
                          mixed_vs_blank=out["mse"][n_std:].sum() / max(out["blank"][n_std:].sum(), 1e-9))
        for name, seqs_r in reach.items():  # each frame's error over the set's, against blank frames'
            err, blank = np.zeros(horizon), np.zeros(horizon)
            for p, t in _rollouts(model, seqs_r, device, batch, context, horizon):
                err += ((p.astype(np.float64) - t) ** 2).sum(axis=(0, 2, 3))  # (horizon,)
                blank += (t.astype(np.float64) ** 2).sum(axis=(0, 2, 3))
            result.update({f"{name}_t1": err[0] / blank[0], name: err.sum() / blank.sum()})
    return {k: float(v) for k, v in result.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def time_prediction(model, device: torch.device, reps: int, seq: np.ndarray) -> dict:
    """Batch-1 10 -> 10 prediction time on ``device`` in float32 and bf16 (median and p90, ms) of
    ``seq`` ``(1, T, 1, 64, 64)``."""
    ctx = torch.from_numpy(seq[:, : fdata.CONTEXT]).to(device)  # (1, 10, 1, 64, 64)
    out = {}
    for name, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            times = []
            for i in range(reps + 3):  # 3 warm-up calls (kernel selection, caches)
                _sync(device)
                t0 = time.perf_counter()
                model(ctx, fdata.SEQ_LEN - fdata.CONTEXT)
                _sync(device)
                if i >= 3:
                    times.append((time.perf_counter() - t0) * 1e3)
        out[name] = {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)), "reps": reps}
    return out


@torch.no_grad()
def agreement(model, device: torch.device, seqs: np.ndarray) -> dict:
    """CPU float32 against device float32 (TF32 off) and device bf16 predictions of the same weights,
    on ``seqs`` ``(n, T, 1, 64, 64)``: the largest pixel difference and each one's MSE."""
    x, n = torch.from_numpy(seqs), len(seqs)
    ctx, tgt = x[:, : fdata.CONTEXT], x[:, fdata.CONTEXT :].numpy()[:, :, 0]
    horizon = fdata.SEQ_LEN - fdata.CONTEXT
    cpu_model = copy.deepcopy(model).to("cpu").float().eval()
    cpu = cpu_model(ctx, horizon).numpy()[:, :, 0]
    with FullPrecision():
        dev = model(ctx.to(device), horizon).float().cpu().numpy()[:, :, 0]
    with torch.autocast(device.type, dtype=torch.bfloat16):
        bf16 = model(ctx.to(device), horizon).float().cpu().numpy()[:, :, 0]
    mse = lambda p: float(frame_mse(p, tgt).mean())  # noqa: E731
    return {"sequences": n, "max_abs_device_fp32_vs_cpu": float(np.abs(dev - cpu).max()),
            "max_abs_device_bf16_vs_cpu": float(np.abs(bf16 - cpu).max()),
            "mse_cpu": mse(cpu), "mse_device_fp32": mse(dev), "mse_device_bf16": mse(bf16),
            "agree": bool(np.abs(dev - cpu).max() < 1e-3)}


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------
class Output:
    """The run's folder: the compact state, metrics.json and log.txt, each file replaced atomically."""

    def __init__(self, folder: str | Path, cfg: ConvLSTMConfig, started: float):
        self.folder, self.cfg, self.started = Path(folder), cfg, started
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = []
        self.metrics: dict = {}

    def log(self, message: str) -> None:
        line = f"[{time.time() - self.started:7.1f} s] {message}"
        print(line, flush=True)
        self.lines.append(line)

    def write(self, ema, model, step: int, final: bool = False) -> None:
        t0 = time.time()
        cpu = lambda m: {k: v.detach().float().cpu() for k, v in m.state_dict().items()}  # noqa: E731
        settings = self.metrics["settings"]
        manifest = {"source": "train/gpu_run.py", "global_step": step, "ema_decay": settings["ema_decay"],
                    "val_mse": self.metrics.get("last_val_mse"), "val_size": settings["val_size"],
                    "val_set": f"validation_set(seed {fdata.VALIDATION_SEED})", "data": self.metrics["data"],
                    "sequences_per_step": settings["batch"], "finished": final}
        resume_state.write_compact(self.folder, cpu(ema), cpu(model), self.cfg.to_dict(), manifest)
        self.metrics.update(global_step=step, finished=final, wall_s=round(time.time() - self.started, 1))
        resume_state._atomic_write(self.folder / "metrics.json", (json.dumps(self.metrics, indent=1) + "\n").encode())
        self.log(f"wrote {self.folder} at step {step} ({time.time() - t0:.2f} s)")
        resume_state._atomic_write(self.folder / "log.txt", ("\n".join(self.lines) + "\n").encode())


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------
def stream_record(mix: str, shifted_fraction: float = fdata.BAR_SHIFTED_FRACTION,
                  same_speed_fraction: float = fdata.BAR_SAME_SPEED_FRACTION,
                  same_speed_range: tuple[float, float] = fdata.SAME_SPEED_RANGE) -> dict:
    """training.json's record of the stream ``mix`` (the fractions gpu_data.draw uses by default)."""
    if mix == "bar":
        return fdata.stream_record(True, fdata.BAR_STANDARD_FRACTION, same_speed_fraction, shifted_fraction,
                                   same_speed_range)
    return fdata.stream_record(mix == "mixed", fdata.MIXED_STANDARD_FRACTION)


def lr_factor(now: float, train_start: float, train_end: float, cooldown: float) -> float:
    """Stable, then a cosine to 2 % (train.py's) over the last ``cooldown`` of [train_start, train_end]."""
    span = max(train_end - train_start, 1e-9)
    start = train_end - cooldown * span
    if now < start or cooldown <= 0:
        return 1.0
    progress = min(1.0, (now - start) / max(train_end - start, 1e-9))
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))


def ema_decay_at(step: int, decay: float) -> float:
    """train.py's EMA warm-up (train.train.ema_decay_at; that module needs Lightning)."""
    return min(decay, (1 + step) / (10 + step))


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return run(args, argv)
    finally:
        torch.set_num_threads(threads)  # called in-process (tests): leave the caller's setting


def run(args: argparse.Namespace, argv: list[str] | None) -> dict:
    """The run of :func:`main` (its steps are listed in the module docstring); returns metrics.json."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    started = T_START if argv is None else time.time()  # a script counts its imports; a call from its start
    deadline = started + 60 * args.minutes
    model_cls = _model_class()
    cfg, ema_sd, raw_sd, init = load_init(args)
    model, ema = model_cls(cfg).to(device), model_cls(cfg).to(device)
    model.load_state_dict(raw_sd)
    ema.load_state_dict(ema_sd)
    ema.requires_grad_(False).eval()
    out = Output(args.out, cfg, started)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    out.metrics = {"command": "python train/gpu_run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                   "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                              else platform.processor() or "cpu"),
                   "torch": torch.__version__, "config": cfg.to_dict(), "init": init, "settings": settings,
                   "data": stream_record(args.data, args.shifted_fraction, args.same_speed_fraction,
                                                         args.same_speed_range), "validations": [], "curve": [],
                   "events": []}
    out.log(f"init {init['source']} (step {init['global_step']}), device {out.metrics['device']}, "
            f"batch {args.batch}, peak lr {args.lr:.2e}, {args.minutes:g} min")

    def run_validation(when: str, step: int, both: bool) -> dict:
        t0 = time.time()
        entry = {"when": when, "step": step, "t_s": round(time.time() - started, 1),
                 "ema": validate(ema, device, args.val_size, args.val_reach, args.val_batch)}
        if both:
            entry["raw"] = validate(model, device, args.val_size, args.val_reach, args.val_batch)
            model.train()
        entry["seconds"] = round(time.time() - t0, 2)
        out.metrics["validations"].append(entry)
        out.metrics["last_val_mse"] = entry["ema"]["mse"]
        out.log(f"validation ({when}, step {step}): EMA mse {entry['ema']['mse']:.4f} ssim {entry['ema']['ssim']:.4f}"
                + (f"; raw mse {entry['raw']['mse']:.4f}" if both else "") + f" ({entry['seconds']} s)")
        return entry

    step0 = init["global_step"]
    digits = torch.from_numpy(fdata.load_digits("train")).to(device)  # (4000, 28, 28) uint8
    gen = torch.Generator(device=device).manual_seed(args.seed + step0)  # a new stream after every init step
    params, ema_params = list(model.parameters()), list(ema.parameters())
    fused = device.type == "cuda"
    make_opt = lambda: torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay, fused=fused)  # noqa: E731
    opt = make_opt()  # zero moments (the first one imports torch._dynamo: seconds, outside the schedule)

    start = run_validation("start", step0, both=False)
    val_seconds = start["seconds"]
    ref, ref_size = init.get("val_mse"), init.get("val_size")
    if ref is not None and ref_size == args.val_size:
        rel = abs(start["ema"]["mse"] - ref) / max(abs(ref), 1e-12)
        out.metrics["start_check"] = {"reference_val_mse": ref, "val_mse": start["ema"]["mse"], "rel_diff": rel,
                                      "reproduced": rel <= START_TOLERANCE}
        out.log(f"start check: {start['ema']['mse']:.4f} against the init's {ref:.4f} "
                f"({'reproduced' if rel <= START_TOLERANCE else 'NOT reproduced'}, rel. diff {rel:.1e})")
    if args.timing_reps:  # 0 skips it: a CPU branch has no device to time (and emulated bf16 takes minutes)
        val_seqs = _sets(args.val_size, args.val_reach)[0]
        out.metrics["timing"] = time_prediction(ema, device, args.timing_reps, val_seqs[:1])
        out.metrics["agreement"] = agreement(ema, device, val_seqs[: args.agree_size])
        out.log(f"batch-1 prediction on {device.type}: float32 {out.metrics['timing']['float32']['median_ms']:.2f} "
                f"ms, bf16 {out.metrics['timing']['bfloat16']['median_ms']:.2f} ms; CPU vs device max |diff| "
                f"{out.metrics['agreement']['max_abs_device_fp32_vs_cpu']:.2e}")
    out.write(ema, model, step0)
    last_save = time.time()

    # The end of training leaves time for the last validation (EMA and raw: twice the start's) and writes.
    train_start = time.time()
    train_end = deadline - (2 * val_seconds + 5.0 + min(10.0, 0.05 * (deadline - train_start)))
    mid_time = train_start + 0.5 * (train_end - train_start)
    if args.steps:  # by step: the same schedule at every machine speed
        out.metrics["schedule"] = {"steps": args.steps, "cooldown_from_step": round(args.steps * (1 - args.cooldown)),
                                   "warmup_steps": args.warmup_steps}
    else:
        out.metrics["schedule"] = {"train_s": round(train_end - train_start, 1), "cooldown_from_s": round(
            (train_end - train_start) * (1 - args.cooldown), 1), "warmup_steps": args.warmup_steps}

    def more(now: float, i: int) -> bool:
        return i < args.steps if args.steps else (now < train_end or i < args.min_steps)

    def schedule(now: float, i: int) -> float:
        return lr_factor(i, 0, args.steps, args.cooldown) if args.steps else lr_factor(
            now, train_start, train_end, args.cooldown)

    good = [p.detach().clone() for p in params + ema_params]  # the weights at the last finite loss
    peak, warm_from = args.lr, 0
    loss_sum = torch.zeros((), device=device)
    c, h = fdata.CONTEXT, fdata.SEQ_LEN - fdata.CONTEXT
    step, mid_done, lowest = step0, False, math.inf
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest convolutions once
    model.train()
    while more(now := time.time(), step - step0):
        i = step - step0
        lr = peak * min(1.0, (i - warm_from + 1) / max(args.warmup_steps, 1)) * schedule(now, i)
        for g in opt.param_groups:
            g["lr"] = lr
        # (B, 20, 1, 64, 64); parse_args allows a shifted fraction only on the bar's stream
        seq = gpu_data.batch(digits, gen, args.batch, args.data, shifted_fraction=args.shifted_fraction,
                             same_speed_fraction=args.same_speed_fraction, same_speed_range=args.same_speed_range)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            pred = model(seq[:, :c], h, return_context=True, clamp=False)  # next-frame predictions 2..20
        loss = frame_loss(pred.float(), seq[:, 1 : c + h], h, args.predicted_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, args.grad_clip)  # no host sync (no error_if_nonfinite)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1.0 - ema_decay_at(step, args.ema_decay))
        loss_sum += loss.detach()
        step += 1
        if (step - step0) % args.log_every == 0:
            mean = float(loss_sum) / args.log_every  # the one host sync, every log_every steps
            loss_sum.zero_()
            if math.isfinite(mean) and mean <= args.diverge_factor * lowest:
                lowest = min(lowest, mean)
                torch._foreach_copy_(good, params + ema_params)
                out.metrics["curve"].append({"step": step, "t_s": round(time.time() - started, 2), "lr": lr,
                                             "loss": mean})
            else:  # back to the last good reading, at half the learning rate, re-warmed
                torch._foreach_copy_(params + ema_params, good)
                opt, peak, warm_from = make_opt(), peak / 2, step - step0
                out.metrics["events"].append({"step": step, "event": f"diverged (loss {mean:.4g})",
                                              "peak_lr_now": peak})
                out.log(f"step {step}: loss {mean:.4g} diverged; weights restored, peak lr halved to {peak:.2e}")
        if not mid_done and (step - step0 >= args.steps // 2 if args.steps else time.time() >= mid_time):
            mid_done = True
            run_validation("middle", step, both=True)
        if time.time() - last_save >= args.save_every:
            out.metrics["steps"] = step - step0
            out.write(ema, model, step)
            last_save = time.time()
    _sync(device)
    trained = step - step0
    train_s = time.time() - train_start
    out.metrics.update(steps=trained, sequences=trained * args.batch, train_s=round(train_s, 1),
                       steps_per_s=round(trained / max(train_s, 1e-9), 3))
    out.log(f"trained {trained} steps ({trained * args.batch} sequences) in {train_s:.1f} s")
    run_validation("end", step, both=True)
    out.write(ema, model, step, final=True)
    return out.metrics


if __name__ == "__main__":
    main()
