"""Train a framepred ConvLSTM on MovingMNIST with PyTorch Lightning.

Fresh training sequences are drawn on the fly from the 4000 training digits, by default over the
whole range the demo offers (1-3 digits, speeds 0.25-3, sub-pixel phases; a quarter at the standard
protocol); ``--data bar``, for cooldowns, weights them like the acceptance checks. Validation, which
chooses the exported checkpoint, runs on its own seeded set (``framepred.data.validation_set``:
held-out digits, never the test set's sequences). An exponential moving average of the weights
(``--ema-decay``) is what is validated and exported.

A preset names a model: ``--preset v3`` is v3's design (``framepred.config.PRESETS``) and the
recipe it was trained with (``RECIPES``: learning rate, schedule, warm-up, EMA, data); flags given
explicitly win over both. ``default`` is v3, the design of ``checkpoints/default``.

Examples:
    python train/train.py --preset tiny --max-steps 50                       # smoke test
    python train/train.py --preset v3 --precision bf16-mixed --stop-at 20000 --export runs/v3-export
    python train/train.py --preset seed --max-steps 5                         # the seed architecture
    python train/train.py --accelerator cpu --devices 2 --strategy ddp ...    # DDP (gloo on CPU)
    python train/train.py ... --resume runs/v3/checkpoints/last.ckpt          # continue a run
    python train/train.py --data my_sequences.npy --preset tiny --export runs/mine  # your own (N, T, H, W) file

``--export`` will not replace a shipped model (a model folder under ``checkpoints/``) unless
``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run by path: import siblings as the package (train/__init__.py)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, Checkpoint, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from framepred import data as fdata
from framepred.config import CONFIG_NAME, PRESETS, ConvLSTMConfig, config_from_dict
from framepred.datasets import MovingMNISTStream, SequenceDataset
from framepred.hub import WEIGHTS_NAME
from framepred.metrics import frame_mae, frame_mse, frame_ssim
from framepred.model import ConvLSTMSeq2Seq
from framepred.serving.models import checkpoints_dir
from framepred.surgery import widen

REPO = Path(__file__).resolve().parent.parent

# How each shipped model was trained (its checkpoint's training.json and training_notes.md), as
# defaults for --preset NAME; every flag not named here has its parser default (the recipe of seed
# and tiny). Batch 16 throughout, and --precision is the machine's choice (bf16-mixed where native).
RECIPES: dict[str, dict[str, object]] = {
    # From scratch on the standard protocol with teacher forcing, no EMA, a cosine over 12 000 steps;
    # v1-speed1's later phases resumed it (wsd at 4e-4, --rewarm-steps), see its training_notes.md.
    "v1": dict(data="standard", lr=1e-3, schedule="cosine", max_steps=12_000, warmup_steps=300,
               teacher_forcing_steps=3000, ema_decay=0.0),
    # Started from v1 widened (--init-from checkpoints/v1-speed1 --widen-to 64 64 64 64), on mixed
    # settings: stable at 4e-4, then one cooldown branch (--resume at step N, --max-steps N + 1000
    # --decay-steps 1000).
    "v2": dict(lr=4e-4, schedule="wsd", max_steps=300_000, decay_steps=1000, warmup_steps=300,
               teacher_forcing_steps=0, ema_decay=0.999),
    # From scratch on mixed settings (the pilot recipe, train/pilot/run.sh): stable at 1e-3, then one
    # cooldown branch as v2's (at step 23 000 for checkpoints/default).
    "v3": dict(lr=1e-3, schedule="wsd", max_steps=300_000, decay_steps=1000, warmup_steps=300,
               teacher_forcing_steps=0, ema_decay=0.999),
}


# ------------------------------------------------------------------------------------------------
# Model wrapper
# ------------------------------------------------------------------------------------------------
def ema_decay_at(step: int, decay: float) -> float:
    """The EMA's decay after ``step`` optimiser steps: ``(1 + step) / (10 + step)``, capped at ``decay``.

    Without the warm-up, an average with decay 0.999 still holds 0.999^800 = 45 % of the random
    initialisation after 800 steps, so that a run from scratch validates (and exports) mostly noise
    for its first few thousand steps."""
    return min(decay, (1 + step) / (10 + step))


class FramePredModule(L.LightningModule):
    """Lightning wrapper: loss, teacher forcing, optimiser and schedule live here, not in the model."""

    def __init__(
        self,
        config: dict,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 500,
        schedule: str = "cosine",
        total_steps: int = 10_000,
        decay_steps: int = 2000,
        teacher_forcing_steps: int = 3000,
        rewarm_from: int = 0,
        rewarm_steps: int = 0,
        context: int = fdata.CONTEXT,
        horizon: int = fdata.SEQ_LEN - fdata.CONTEXT,
        ema_decay: float = 0.0,
        val_standard: int = 0,
        val_reach: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = ConvLSTMSeq2Seq(config_from_dict(config, "the module's config"))
        # The EMA copy is a submodule, so Lightning checkpoints (and --resume) carry it.
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if ema_decay > 0 else None
        self._val_sums: dict[str, float] = {}
        self._reach: torch.Tensor | None = None  # the reach test's sequences, made on first use

    @property
    def eval_model(self) -> ConvLSTMSeq2Seq:
        """The weights validated and exported: the EMA when enabled."""
        return self.ema if self.ema is not None else self.model

    def reset_ema(self) -> None:
        """Start the average from the current weights (after --init-from)."""
        if self.ema is not None:
            self.ema.load_state_dict(self.model.state_dict())

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.ema is None:
            return
        with torch.no_grad():
            d = ema_decay_at(self.global_step, self.hparams.ema_decay)
            for e, p in zip(self.ema.parameters(), self.model.parameters()):
                e.lerp_(p.detach(), 1.0 - d)

    def on_before_optimizer_step(self, optimizer) -> None:
        # Before clipping: the raw gradient norm (spikes here explain loss spikes).
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
            self.log("train/grad_norm", norm)

    # Teacher forcing (scheduled sampling, Bengio et al. 2015): early on, the decoder reads the true
    # previous frame with probability p, decaying linearly to 0, so that the rollout learns from clean
    # inputs first and then from its own predictions. The context steps always give next-frame
    # supervision (their inputs are real frames), which is what moves the model off the blank plateau.
    def teacher_prob(self) -> float:
        n = self.hparams.teacher_forcing_steps
        return max(0.0, 1.0 - self.global_step / n) if n > 0 else 0.0

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        seq = batch  # (B, T, 1, H, W)
        c, h = self.hparams.context, self.hparams.horizon
        ctx, tgt = seq[:, :c], seq[:, c : c + h]
        cfg = self.model.config
        if cfg.decoder == "frame":
            p = self.teacher_prob()
            mask = torch.rand(seq.shape[0], h - 1, device=seq.device) < p  # (B, h-1)
            pred = self.model(ctx, h, target=tgt, teacher_mask=mask, return_context=True, clamp=False)
            truth = seq[:, 1 : c + h]  # next-frame targets for every step, (B, c+h-1, 1, H, W)
            self.log("train/teacher_prob", p)
        else:
            pred, truth = self.model(ctx, h), tgt
        loss = F.mse_loss(pred.float(), truth)
        self.log("train/loss", loss, prog_bar=True)
        # The OpenSTL-scale MSE of the horizon frames (sum over a 64x64 frame), comparable with val.
        horizon_mse = F.mse_loss(pred[:, -h:].float().clamp(0, 1), tgt) * tgt[0, 0].numel()
        self.log("train/mse_frame", horizon_mse, prog_bar=True)
        return loss

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        c, h = self.hparams.context, self.hparams.horizon
        ctx, tgt = batch[:, :c], batch[:, c : c + h]
        pred = self.eval_model(ctx, h).float()  # (B, h, 1, H, W), free-running rollout
        p, t = pred.cpu().numpy()[:, :, 0], tgt.cpu().numpy()[:, :, 0]  # (B, h, H, W)
        # Per-sequence metrics, so the standard-protocol part of the set can be reported apart.
        index = batch_idx * self.trainer.val_dataloaders.batch_size + np.arange(len(p))
        is_std = index < self.hparams.val_standard  # the validation set puts them first
        sums = {
            "mse": frame_mse(p, t, reduce=False), "mae": frame_mae(p, t, reduce=False),
            "ssim": frame_ssim(p, t, reduce=False), "blank": frame_mse(np.zeros_like(t), t, reduce=False),
        }
        for name, per_seq in sums.items():
            per_seq = per_seq.mean(axis=1)  # (B,)
            self._val_sums[name] = self._val_sums.get(name, 0.0) + float(per_seq.sum())
            self._val_sums[name + "_std"] = self._val_sums.get(name + "_std", 0.0) + float(per_seq[is_std].sum())
            self._val_sums[name + "_mix"] = self._val_sums.get(name + "_mix", 0.0) + float(per_seq[~is_std].sum())
        self._val_sums["n"] = self._val_sums.get("n", 0.0) + len(p)
        self._val_sums["n_std"] = self._val_sums.get("n_std", 0.0) + float(is_std.sum())
        if batch_idx == 0 and self.global_rank == 0:
            self._log_samples(batch[:4, :, 0].cpu().numpy(), p[:4])

    def on_validation_epoch_end(self) -> None:
        sums, self._val_sums = self._val_sums, {}
        if not sums:
            return
        # Reduce over DDP ranks so every process logs the same value for checkpointing.
        keys = sorted(sums)
        vec = torch.tensor([sums[k] for k in keys], dtype=torch.float64, device=self.device)
        vec = self.all_gather(vec)
        vec = vec.reshape(-1, len(keys)).sum(0) if vec.ndim > 1 else vec
        tot = dict(zip(keys, vec.tolist()))
        n, n_std = tot["n"], tot["n_std"]
        # The optimiser step this validation belongs to: Lightning's CSV "step" column lags it by
        # one (two after a resume), so learning curves read this instead.
        self.log("val/global_step", float(self.global_step), rank_zero_only=False)
        self.log("val/mse", tot["mse"] / n, prog_bar=True, rank_zero_only=False)
        self.log("val/mae", tot["mae"] / n)
        self.log("val/ssim", tot["ssim"] / n, prog_bar=True)
        if n_std > 0:
            self.log("val/mse_standard", tot["mse_std"] / n_std)
            self.log("val/ssim_standard", tot["ssim_std"] / n_std)
        if n - n_std > 0:
            # Mixed settings as a fraction of predicting blank frames (< 1: better than nothing).
            self.log("val/mse_mixed", tot["mse_mix"] / (n - n_std))
            self.log("val/mixed_vs_blank", tot["mse_mix"] / max(tot["blank_mix"], 1e-9))
        if self.hparams.val_reach:
            for name, value in self._reach_scores().items():
                self.log(name, value)

    @torch.no_grad()
    def _reach_scores(self) -> dict[str, float]:
        """The reach test: MSE / blank-frame MSE at speed 3, 2 digits, of the first predicted frame
        (one step's reach, before any rollout drift) and of all ten. Held-out digits, own seed."""
        if self._reach is None:
            seqs = fdata.reach_set(self.hparams.val_reach)  # (N, 20, 64, 64) uint8
            self._reach = torch.from_numpy(fdata.to_unit_float(seqs))[:, :, None]  # (N, 20, 1, 64, 64)
        c, h = self.hparams.context, self.hparams.horizon
        err, blank = torch.zeros(h, dtype=torch.float64), torch.zeros(h, dtype=torch.float64)
        for batch in self._reach.split(self.trainer.val_dataloaders.batch_size):
            batch = batch.to(self.device)
            tgt = batch[:, c : c + h]  # (B, h, 1, H, W)
            pred = self.eval_model(batch[:, :c], h).float()
            err += ((pred - tgt) ** 2).sum(dim=(0, 2, 3, 4)).double().cpu()  # (h,)
            blank += (tgt**2).sum(dim=(0, 2, 3, 4)).double().cpu()
        return {"val/reach_s3_t1": float(err[0] / blank[0]), "val/reach_s3": float(err.sum() / blank.sum())}

    def _log_samples(self, seqs: np.ndarray, preds: np.ndarray) -> None:
        """Save ground-truth / prediction strips as a PNG in the log dir (and to TensorBoard)."""
        from framepred.viz import frame_strip_image

        c = self.hparams.context
        img = frame_strip_image(seqs[:, :c], seqs[:, c:], preds)  # uint8 (H, W)
        log_dir = Path(self.logger.log_dir if self.logger else ".") / "samples"
        log_dir.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(img).save(log_dir / f"step{self.global_step:07d}.png")
        for lg in self.loggers:
            exp = getattr(lg, "experiment", None)
            if hasattr(exp, "add_image"):
                exp.add_image("val/samples", img[None], self.global_step)

    def on_train_start(self) -> None:
        # On --resume, Lightning restores the scheduler's base learning rate from the checkpoint;
        # use the one given now, so a resumed run can continue at a new level (e.g. a wsd decay).
        for cfg in self.trainer.lr_scheduler_configs:
            if isinstance(cfg.scheduler, torch.optim.lr_scheduler.LambdaLR):
                cfg.scheduler.base_lrs = [self.hparams.lr] * len(cfg.scheduler.base_lrs)

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        total, warm = max(hp.total_steps, 1), max(hp.warmup_steps, 0)

        def factor(step: int) -> float:
            # A resumed run that raises the learning rate ramps up to it again, as at the start, rather
            # than jumping from a decayed rate (Adam's moments were tuned to small steps).
            ramp = 1.0
            if hp.rewarm_steps > 0 and step >= hp.rewarm_from:
                ramp = min(1.0, (step - hp.rewarm_from + 1) / hp.rewarm_steps)
            return ramp * _factor(step)

        def _factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            if hp.schedule == "constant":
                return 1.0
            if hp.schedule == "wsd":  # warm-up, stable, then decay over the last decay_steps
                start = total - hp.decay_steps
                if step < start:
                    return 1.0
                progress = min(1.0, (step - start) / max(1, hp.decay_steps))
            else:
                progress = min(1.0, (step - warm) / max(1, total - warm))
            return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))  # cosine to 2% of lr

        if hp.schedule == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp.lr, total_steps=total,
                                                        pct_start=max(warm / total, 0.01))
        else:
            sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------
class MovingMNISTDataModule(L.LightningDataModule):
    def __init__(self, batch_size: int = 16, val_size: int = fdata.VALIDATION_SIZE, val_batch_size: int = 80,
                 num_workers: int = 0, seed: int = 0, mnist_dir: str | None = None,
                 mixed: bool = True, standard_fraction: float = 0.25, same_speed_fraction: float = 0.0,
                 shifted_fraction: float = 0.0):
        super().__init__()
        self.batch_size, self.val_size, self.val_batch_size = batch_size, val_size, val_batch_size
        self.num_workers, self.seed, self.mnist_dir = num_workers, seed, mnist_dir
        self.mixed, self.standard_fraction, self.same_speed_fraction = mixed, standard_fraction, same_speed_fraction
        self.shifted_fraction = shifted_fraction

    def describe(self) -> dict:
        """The training stream's settings, for training.json (the app reads the ranges)."""
        return fdata.stream_record(self.mixed, self.standard_fraction, self.same_speed_fraction, self.shifted_fraction)

    def train_dataloader(self):
        digits = fdata.load_digits("train", self.mnist_dir)
        ds = MovingMNISTStream(digits, seed=self.seed, mixed=self.mixed, standard_fraction=self.standard_fraction,
                               same_speed_fraction=self.same_speed_fraction, shifted_fraction=self.shifted_fraction)
        return torch.utils.data.DataLoader(ds, batch_size=self.batch_size, num_workers=self.num_workers)

    def val_dataloader(self):
        # Its own seeded set (held-out digits), never the test set: see fdata.validation_set.
        ds = SequenceDataset(fdata.validation_set(self.val_size))
        # DDP: Lightning adds a DistributedSampler, so each rank scores its own share.
        return torch.utils.data.DataLoader(ds, batch_size=self.val_batch_size, num_workers=0)

    @property
    def val_set(self) -> str:
        return VAL_SET

    def record(self) -> dict:
        """How the training sequences were made, for the export's training.json (and the model card)."""
        return self.describe()


# Data from a file: --data PATH.npy
GENERATED_DATA = ("mixed", "bar", "standard")  # what --data names besides a file: drawn on the fly
LAYOUTS = ("auto", "NTHW", "TNHW")


def data_arg(value: str) -> str:
    """``--data``: one of :data:`GENERATED_DATA`, or a ``.npy`` file of sequences."""
    if value in GENERATED_DATA or value.lower().endswith(".npy"):
        return value
    raise argparse.ArgumentTypeError(
        f"expected {' or '.join(GENERATED_DATA)}, or a .npy file of sequences; got {value!r}")


def is_file_data(args: argparse.Namespace) -> bool:
    return args.data not in GENERATED_DATA


def file_layout(shape: tuple[int, ...], layout: str) -> str:
    """``"NTHW"`` or ``"TNHW"``: ``auto`` takes ``(20, N, ...)`` with N != 20 as MovingMNIST's
    ``mnist_test_seq.npy`` layout (the rule of framepred.data.load_sequences and ``framepred eval``)."""
    if layout == "auto":
        return "TNHW" if shape[0] == fdata.SEQ_LEN and shape[1] != fdata.SEQ_LEN else "NTHW"
    return layout


def open_sequences(path: str | os.PathLike, layout: str) -> np.ndarray:
    """The file's array memory-mapped, as an ``(N, T, H, W)`` view (nothing is read yet)."""
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    return np.swapaxes(arr, 0, 1) if layout == "TNHW" else arr


def read_sequence_file(path: str | os.PathLike, layout: str = "auto") -> tuple[np.ndarray, str]:
    """A ``.npy`` file of training sequences, checked, as ``(an (N, T, H, W) memory-mapped view, its
    layout)``: uint8 0..255 or float in [0, 1] (checked in chunks), square frames, at least 2 sequences
    (one held out) of at least 2 frames. ``ValueError`` says what is wrong."""
    from framepred import uploads
    from framepred.cli import check_floats

    path = Path(path)
    if not path.is_file():
        raise ValueError("no such file")
    with open(path, "rb") as f:
        if f.read(6) != uploads.NPY_MAGIC:
            raise ValueError("not a NumPy .npy file")
    shape, dtype, offset = uploads.read_npy_header(path)
    uploads.check_dtype(dtype)
    if dtype != np.uint8 and dtype.kind != "f":
        raise ValueError(f"the frames are {dtype}; training reads uint8 0..255 or float in [0, 1]")
    if len(shape) != 4 or 0 in shape:
        raise ValueError(f"the array has shape {tuple(shape)}; training reads sequences (N, T, H, W) or "
                         f"MovingMNIST's layout ({fdata.SEQ_LEN}, N, 64, 64)")
    uploads.check_npy_length(path, shape, dtype, offset)
    layout = file_layout(shape, layout)
    seqs = open_sequences(path, layout)
    n, t, h, w = seqs.shape
    if h != w:
        raise ValueError(f"the frames are {h}x{w} (read as {layout}); the model reads square frames")
    if n < 2:
        raise ValueError(f"it holds {n} sequence (read as {layout}); at least 2 are needed, one to hold out")
    if t < 2:
        raise ValueError(f"its sequences have {t} frame (read as {layout}); at least 2 are needed, "
                         "a context frame and one to predict")
    if dtype.kind == "f":
        check_floats(seqs)
    return seqs, layout


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (training, validation) indices of ``n`` sequences: a seeded random ``fraction`` of them
    (at least 1, at most n - 1) held out for validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--val-fraction must lie between 0 and 1, got {fraction}")
    n_val = min(n - 1, max(1, round(n * fraction)))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class FileWindows(torch.utils.data.Dataset):
    """Sequences ``indices`` of a ``.npy`` file as float32 windows ``(length, 1, H, W)``: at a random
    start for training (a file's sequences may be longer than context + horizon), the first frames
    for validation. The file is memory-mapped in each process (dataloader workers reopen it rather
    than receive a pickled copy of the whole array)."""

    def __init__(self, path: str | os.PathLike, layout: str, indices: np.ndarray, length: int, random_start: bool):
        self.path, self.layout, self.indices = path, layout, indices
        self.length, self.random_start = length, random_start
        self._seqs: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_seqs": None}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> torch.Tensor:
        if self._seqs is None:
            self._seqs = open_sequences(self.path, self.layout)
        seq = self._seqs[self.indices[i]]  # (T, H, W), still on disk
        start = int(torch.randint(0, len(seq) - self.length + 1, ())) if self.random_start else 0
        frames = fdata.to_unit_float(np.asarray(seq[start : start + self.length]))  # (length, H, W)
        return torch.from_numpy(frames)[:, None]


class FileDataModule(L.LightningDataModule):
    """Sequences from a ``.npy`` file: a seeded held-out split (``val_fraction``, split by ``split_seed``,
    the same on every --resume) validates, the rest trains, reshuffled each epoch (by ``seed``)."""

    mixed = False

    def __init__(self, path: str | os.PathLike, layout: str, shape: tuple[int, ...], context: int, horizon: int,
                 batch_size: int = 16, val_fraction: float = 0.1, split_seed: int = 0, seed: int = 0,
                 val_batch_size: int = 80, num_workers: int = 0):
        super().__init__()
        self.path, self.layout, self.shape = Path(path), layout, tuple(shape)
        self.context, self.horizon = context, horizon
        self.batch_size, self.val_batch_size, self.num_workers = batch_size, val_batch_size, num_workers
        self.val_fraction, self.split_seed, self.seed = val_fraction, split_seed, seed
        self.train_idx, self.val_idx = holdout_split(self.shape[0], val_fraction, split_seed)
        self.val_size = len(self.val_idx)

    @property
    def val_set(self) -> str:
        return f"{self.val_size} sequences of {self.path.name} held out (seed {self.split_seed})"

    def _windows(self, indices: np.ndarray, random_start: bool) -> FileWindows:
        return FileWindows(self.path, self.layout, indices, self.context + self.horizon, random_start)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(
            self._windows(self.train_idx, True), batch_size=self.batch_size, shuffle=True,
            generator=torch.Generator().manual_seed(self.seed), num_workers=self.num_workers)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self._windows(self.val_idx, False), batch_size=self.val_batch_size,
                                           num_workers=0)

    def record(self) -> dict:
        n, t, h, w = self.shape
        return {"mixed": False, "file": self.path.name, "layout": self.layout, "sequences": n, "frames": t,
                "frame_size": [h, w], "train_sequences": len(self.train_idx), "val_sequences": self.val_size,
                "split_seed": self.split_seed, "context": self.context, "horizon": self.horizon}


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------
def export(module: FramePredModule, out_dir: Path, info: dict) -> None:
    """Write ``config.json`` + ``model.safetensors`` (from_pretrained format) and ``training.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    module.eval_model.save_pretrained(out_dir)
    (out_dir / "training.json").write_text(json.dumps(info, indent=2) + "\n")


def publish(export_dir: Path, repo_id: str, log_dir: Path | None = None, *, limit: int | None = None,
            token: str | None = None) -> str:
    """Push an exported model and its card to a Hub model repo; returns the commit URL.

    ``eval.json`` (held-out test set, ``limit`` sequences if given) and the card ``README.md``
    (with the learning curve from ``log_dir``'s CSV logs, ``training_notes.md`` and a fresh
    ``grid.json`` when present; its usage snippet loads ``repo_id``) are rewritten when missing or
    older than the weights (the card also when it is save_pretrained's generic one or names another
    repo), so that the Hub never shows another model's numbers or an empty card; then the whole
    folder is uploaded
    (:func:`framepred.hub.push_folder`).
    """
    from framepred.hub import WEIGHTS_NAME, push_folder
    from train import evaluate as evaluate_script
    from train import model_card

    export_dir = Path(export_dir)
    weights_ns = (export_dir / WEIGHTS_NAME).stat().st_mtime_ns

    def fresh(name: str, than_ns: int = weights_ns) -> bool:
        path = export_dir / name
        return path.is_file() and path.stat().st_mtime_ns >= than_ns

    if not fresh("eval.json"):
        evaluate_script.main(["--model", str(export_dir), "--json", str(export_dir / "eval.json")]
                             + (["--limit", str(limit)] if limit else []))
    card_path = export_dir / "README.md"
    # save_pretrained leaves a generic card of its own (and never replaces an old one): ours has results,
    # and its usage snippet loads this repo.
    text = card_path.read_text(encoding="utf-8", errors="replace") if card_path.is_file() else ""
    ours = "\nmodel-index:" in text and f'load_model("{repo_id}")' in text
    if not (ours and fresh("README.md", max(weights_ns, (export_dir / "eval.json").stat().st_mtime_ns))):
        card = ["--model", str(export_dir), "--eval", str(export_dir / "eval.json"), "--hub-id", repo_id]
        if log_dir is not None and any(Path(log_dir).glob("version_*/metrics.csv")):
            card += ["--run-dir", str(log_dir)]
        if (export_dir / "training_notes.md").is_file():
            card += ["--notes", str(export_dir / "training_notes.md")]
        if fresh("grid.json"):
            card += ["--grid", str(export_dir / "grid.json")]
        model_card.main(card)
    return push_folder(export_dir, repo_id, token=token)


VAL_SET = f"validation_set(seed {fdata.VALIDATION_SEED})"


def _metric(trainer, key: str) -> float | None:
    value = trainer.callback_metrics.get(key)
    return None if value is None else float(value)


class SaveLast(Checkpoint):
    """Write ``last.ckpt`` after every validation, improved or not: the state to ``--resume`` from.

    (Lightning's ``save_last`` writes only when a top-k checkpoint is written, i.e. when validation
    improves, so a resumed run that had not yet beaten its best kept nothing.) Being a ``Checkpoint``,
    Lightning runs it after the other callbacks, so the saved state includes this validation's."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_validation_end(self, trainer, module):
        if not trainer.sanity_checking:
            # The full state (optimizer, schedule, callbacks) to resume from; every rank calls it, rank 0 writes.
            trainer.save_checkpoint(self.path, weights_only=False)


class TrainingClock(Callback):
    """Wall time of this phase and of the whole run, kept in the Lightning checkpoint so that the
    total survives ``--resume``. The total is known only when every phase was clocked: a run
    resumed from a checkpoint without this state has ``total_s() is None``."""

    def __init__(self, resumed: bool):
        self.t0 = time.time()
        self.before_s, self.complete = 0.0, not resumed

    def phase_s(self) -> float:
        return time.time() - self.t0

    def total_s(self) -> float | None:
        return self.before_s + self.phase_s() if self.complete else None

    def state_dict(self) -> dict:
        return {"total_s": self.before_s + self.phase_s(), "complete": self.complete}

    def load_state_dict(self, state: dict) -> None:  # called on --resume, before training starts
        self.before_s, self.complete = float(state["total_s"]), bool(state["complete"])


class ExportBest(Callback):
    """After each validation that improves val/mse, export the weights (rank 0 only), so that a run
    stopped at any time leaves a usable model in ``checkpoints/NAME``."""

    def __init__(self, out_dir: Path, command: str, clock: TrainingClock):
        self.out_dir, self.command, self.best = out_dir, command, float("inf")
        self.sequences_per_step = 0  # set once the trainer knows its world size
        self.clock = clock

    def on_validation_end(self, trainer, module):
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        mse = trainer.callback_metrics.get("val/mse")
        if mse is None or float(mse) >= self.best:
            return
        self.best = float(mse)
        info = {
            "global_step": trainer.global_step,
            "sequences_per_step": self.sequences_per_step,
            "val_mse": float(mse),
            "val_ssim": float(trainer.callback_metrics.get("val/ssim", float("nan"))),
            "val_size": trainer.datamodule.val_size if trainer.datamodule else None,
            "val_set": trainer.datamodule.val_set if trainer.datamodule else VAL_SET,
            "val_mse_standard": _metric(trainer, "val/mse_standard"),
            "val_mixed_vs_blank": _metric(trainer, "val/mixed_vs_blank"),
            "val_reach_s3_t1": _metric(trainer, "val/reach_s3_t1"),
            "ema": module.ema is not None,
            "data": trainer.datamodule.record() if trainer.datamodule else None,
            "wall_time_s": round(self.clock.phase_s(), 1),  # this phase, until this export
            "command": self.command,
            "hparams": {k: v for k, v in module.hparams.items() if k != "config"},
            "precision": str(trainer.precision),
        }
        total = self.clock.total_s()
        if total is not None:
            info["total_wall_time_s"] = round(total, 1)  # all phases since step 0
        export(module, self.out_dir, info)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the preset's recipe (``RECIPES``) as the defaults of the flags it sets."""
    p = _parser()
    preset = p.parse_known_args(argv)[0].preset
    p.set_defaults(**RECIPES.get(PRESETS[preset].preset, {}))  # by the design's own name: default -> v3
    return p.parse_args(argv)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("model")
    g.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="a model's design and training recipe (default: v3, the design of checkpoints/default)")
    g.add_argument("--hidden-dims", type=int, nargs="+", help="override the preset's hidden sizes")
    g.add_argument("--kernel-size", type=int)
    g.add_argument("--patch-size", type=int)
    g.add_argument("--init-from", help="start from exported weights (a from_pretrained directory)")
    g.add_argument("--widen-to", type=int, nargs="+",
                   help="with --init-from: widen its layers to these sizes, predicting exactly as before")
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch-size", type=int, default=16, help="per device")
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--schedule", default="cosine", choices=["cosine", "wsd", "onecycle", "constant"],
                   help="cosine: to 2%% of lr at --max-steps; wsd: constant, then a cosine decay over the "
                        "last --decay-steps (resumable: extend --max-steps and decay again)")
    g.add_argument("--decay-steps", type=int, default=2000, help="length of the wsd decay")
    g.add_argument("--warmup-steps", type=int, default=300)
    g.add_argument("--rewarm-steps", type=int, default=0,
                   help="with --resume: ramp the learning rate up linearly again over this many steps")
    g.add_argument("--grad-clip", type=float, default=1.0)
    g.add_argument("--teacher-forcing-steps", type=int, default=3000,
                   help="teacher-forcing probability decays linearly from 1 to 0 over these steps")
    g.add_argument("--max-steps", type=int, default=10_000, help="also the length of the lr schedule")
    g.add_argument("--stop-at", type=int,
                   help="end this phase at this step while the lr schedule still spans --max-steps: "
                        "a wsd run stops in its stable phase, to be resumed or branched into a cooldown")
    g.add_argument("--max-time", help="wall-clock limit DD:HH:MM:SS or HH:MM:SS (counted across --resume)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--ema-decay", type=float, default=0.999,
                   help="exponential moving average of the weights, validated and exported (0: off)")
    g = p.add_argument_group("data")
    g.add_argument("--data", default="mixed", type=data_arg, metavar="{mixed,bar,standard,PATH.npy}",
                   help="mixed: 1-3 digits, speeds 0.25-3 per digit, sub-pixel phases; bar: weighted like the "
                        "acceptance checks, for cooldowns (framepred.data.draw_bar_settings: more standard "
                        "sequences, and 1-3 digits all at one speed 0.5-3); standard: 2 digits, speed 1; "
                        "PATH.npy: your own sequences, (N, T, H, W) or MovingMNIST's (T, N, 64, 64), uint8 0-255 or "
                        "float in [0, 1], square frames (the model's image size follows them); a seeded "
                        "--val-fraction is held out for validation")
    g.add_argument("--data-layout", default="auto", choices=LAYOUTS,
                   help="--data PATH.npy: the array's axes; auto: (20, N, ...) with N != 20 is MovingMNIST's "
                        "(T, N, ...), anything else (N, T, ...)")
    g.add_argument("--val-fraction", type=float, default=0.1,
                   help="--data PATH.npy: the fraction of its sequences held out for validation (at least one)")
    g.add_argument("--context", type=int,
                   help="frames the model reads before predicting (default: half the sequence: 10 of MovingMNIST's 20)")
    g.add_argument("--horizon", type=int,
                   help="frames it predicts, trained and validated (default: the rest of the sequence)")
    g.add_argument("--standard-fraction", type=float,
                   help="mixed or bar data: the fraction of sequences at the standard protocol "
                        f"(default: mixed {fdata.MIXED_STANDARD_FRACTION}, bar {fdata.BAR_STANDARD_FRACTION})")
    g.add_argument("--same-speed-fraction", type=float,
                   help="bar data: the fraction with all digits at one speed "
                        f"(default {fdata.BAR_SAME_SPEED_FRACTION})")
    g.add_argument("--shifted-fraction", type=float,
                   help="bar data: the fraction of its standard and same-speed sequences on a sub-pixel-shifted grid "
                        f"(default {fdata.BAR_SHIFTED_FRACTION}; see framepred.data.draw_bar_settings)")
    g = p.add_argument_group("hardware")
    g.add_argument("--precision", default="32-true",
                   help="32 | bf16-mixed | 16-mixed (Lightning precision strings)")
    g.add_argument("--accelerator", default="auto")
    g.add_argument("--devices", default="auto")
    g.add_argument("--strategy", default="auto")
    g.add_argument("--num-nodes", type=int, default=1)
    g.add_argument("--num-workers", type=int, default=0)
    g.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    g = p.add_argument_group("validation, logging, output")
    g.add_argument("--val-every", type=int, default=500, help="validate every N training steps")
    g.add_argument("--val-size", type=int, default=fdata.VALIDATION_SIZE,
                   help="sequences of the validation set (its first third at the standard protocol)")
    g.add_argument("--val-reach", type=int, default=96,
                   help="sequences of the reach test (speed 3, 2 digits) scored at each validation (0: off)")
    g.add_argument("--run-dir", default=str(REPO / "runs"), help="logs and Lightning checkpoints")
    g.add_argument("--name", help="run name (default: the preset)")
    g.add_argument("--resume", help="Lightning checkpoint to resume (optimizer, step, schedule)")
    g.add_argument("--export", help="export the best weights to checkpoints/NAME (or a path)")
    g.add_argument("--overwrite", action="store_true",
                   help="let --export replace a shipped model (a model folder under checkpoints/)")
    g.add_argument("--push-to-hub", help="after training, push the exported model to this Hub repo")
    g.add_argument("--mnist-dir", help="directory with MNIST IDX files instead of the shipped digits")
    g.add_argument("--log-every", type=int, default=10, help="log training metrics every N steps")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar (log files)")
    return p


def data_settings(args: argparse.Namespace) -> dict:
    """The training stream's MovingMNISTDataModule arguments for ``--data`` and its fractions."""
    if (args.same_speed_fraction is not None or args.shifted_fraction is not None) and args.data != "bar":
        raise SystemExit("--same-speed-fraction and --shifted-fraction are settings of --data bar")
    if args.data == "bar":
        standard = fdata.BAR_STANDARD_FRACTION if args.standard_fraction is None else args.standard_fraction
        same = fdata.BAR_SAME_SPEED_FRACTION if args.same_speed_fraction is None else args.same_speed_fraction
        if not (0 <= standard and 0 < same and standard + same <= 1):
            raise SystemExit("--data bar needs fractions >= 0 (same speed > 0) summing to <= 1, "
                             f"got {standard}, {same}")
        shifted = fdata.BAR_SHIFTED_FRACTION if args.shifted_fraction is None else args.shifted_fraction
        if not 0 <= shifted <= 1:
            raise SystemExit(f"--shifted-fraction must be in [0, 1], got {shifted}")
        return {"mixed": True, "standard_fraction": standard, "same_speed_fraction": same, "shifted_fraction": shifted}
    standard = fdata.MIXED_STANDARD_FRACTION if args.standard_fraction is None else args.standard_fraction
    return {"mixed": args.data == "mixed", "standard_fraction": standard}


def build_config(args: argparse.Namespace, image_size: int | None = None) -> ConvLSTMConfig:
    """The preset's config with the flags' overrides; ``image_size``: the frames' side (--data PATH.npy)."""
    cfg = ConvLSTMConfig.preset_config(args.preset)
    changes = {}
    if image_size is not None and image_size != cfg.image_size:
        changes["image_size"] = image_size
    if args.hidden_dims:
        changes["hidden_dims"] = tuple(args.hidden_dims)
    if args.kernel_size:
        changes["kernel_size"] = args.kernel_size
    if args.patch_size:
        changes["patch_size"] = args.patch_size
    if changes:
        custom = dataclasses.replace(cfg, **changes)
        # Overrides that spell out a named design (the v3 pilot's `--preset default --patch-size 8
        # --hidden-dims 128 ...`, from when default was v2) keep that design's name: configs compare
        # equal whatever their label.
        name = next((known.preset for known in PRESETS.values() if known == custom), f"{cfg.preset}-custom")
        cfg = dataclasses.replace(custom, preset=name)
    return cfg


def build_module(args: argparse.Namespace, cfg: ConvLSTMConfig, resumed_step: int,
                 context: int = fdata.CONTEXT, horizon: int = fdata.SEQ_LEN - fdata.CONTEXT) -> FramePredModule:
    """The Lightning module for ``cfg``; with ``--init-from``, its weights are that model's (widened
    first when asked, so that it starts out predicting as that model)."""
    generated = not is_file_data(args)  # the standard third and the reach test are MovingMNIST's
    module = FramePredModule(
        dataclasses.asdict(cfg), lr=args.lr, weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps, schedule=args.schedule, total_steps=args.max_steps,
        decay_steps=args.decay_steps,
        teacher_forcing_steps=args.teacher_forcing_steps,
        rewarm_from=resumed_step, rewarm_steps=args.rewarm_steps if args.resume else 0,
        context=context, horizon=horizon, ema_decay=args.ema_decay,
        val_standard=args.val_size // 3 if generated else 0, val_reach=args.val_reach if generated else 0,
    )
    if args.init_from:
        src = ConvLSTMSeq2Seq.from_pretrained(args.init_from)
        if args.widen_to:
            src = widen(src, tuple(args.widen_to), generator=torch.Generator().manual_seed(args.seed))
        if src.config != module.model.config:
            raise SystemExit(f"--init-from {args.init_from}: config {src.config} != {module.model.config}")
        module.model.load_state_dict(src.state_dict())
        module.reset_ema()
    return module


def make_loggers(run_dir: Path, name: str) -> list:
    """CSV logs, and TensorBoard's beside them (same version number) when tensorboard is installed."""
    loggers = [CSVLogger(run_dir, name=name)]
    try:
        import tensorboard  # noqa: F401
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(run_dir, name=name, version=loggers[0].version))
    except ImportError:
        pass
    return loggers


@dataclasses.dataclass
class RunCallbacks:
    """The callbacks of one run, by role (Lightning gets :meth:`all`, in this order)."""

    clock: TrainingClock
    best: ModelCheckpoint
    last: SaveLast
    exporter: ExportBest | None

    def all(self) -> list[Callback]:
        return [self.clock, self.best, self.last, LearningRateMonitor("step")] + (
            [self.exporter] if self.exporter else [])


def export_target(args: argparse.Namespace) -> Path | None:
    """Where ``--export`` writes: a path as given, a bare name under the repository's checkpoints/."""
    if not args.export:
        return None
    return Path(args.export) if os.sep in args.export else REPO / "checkpoints" / args.export


def check_export_target(out_dir: Path, overwrite: bool) -> None:
    """SystemExit, before any training, when exporting to ``out_dir`` would replace a shipped model:
    a model folder (config.json + model.safetensors) under the repository's checkpoints/ or the app's
    (``FRAMEPRED_CHECKPOINTS_DIR``), or such a checkpoints folder itself; ``overwrite`` allows it."""
    if overwrite:
        return
    target = out_dir.resolve()
    for root in {(REPO / "checkpoints").resolve(), checkpoints_dir()}:
        if target == root:
            raise SystemExit(f"--export {out_dir}: that is the checkpoints folder itself, which holds the "
                             "shipped models; export to checkpoints/NAME, or add --overwrite")
        if target.is_relative_to(root) and all((target / f).is_file() for f in (CONFIG_NAME, WEIGHTS_NAME)):
            raise SystemExit(f"--export {out_dir}: a shipped model is there and exporting would replace it; "
                             "export somewhere else (e.g. --export runs/NAME-export), or add --overwrite")


def make_callbacks(args: argparse.Namespace, run_dir: Path, name: str, argv: list[str] | None,
                   val_set: str = VAL_SET) -> RunCallbacks:
    """Best and last checkpoints, the wall clock and, with ``--export``, the exporter of the best weights."""
    clock = TrainingClock(resumed=bool(args.resume))
    best = ModelCheckpoint(
        dirpath=run_dir / name / "checkpoints", filename="best-{step}", monitor="val/mse",
        mode="min", save_top_k=1,
    )
    exporter = None
    out_dir = export_target(args)
    if out_dir is not None:
        command = "python train/train.py " + " ".join(argv if argv is not None else sys.argv[1:])
        exporter = ExportBest(out_dir, command, clock)
        previous = out_dir / "training.json"
        if args.resume and previous.is_file():
            # A resumed run only replaces the export when it beats what it exported before.
            prev = json.loads(previous.read_text())
            if prev.get("val_set") == val_set and (prev.get("val_size") == args.val_size or val_set != VAL_SET):
                exporter.best = float(prev.get("val_mse", exporter.best))
    return RunCallbacks(clock, best, SaveLast(run_dir / name / "checkpoints" / "last.ckpt"), exporter)


def make_trainer(args: argparse.Namespace, loggers: list, callbacks: RunCallbacks) -> L.Trainer:
    trainer = L.Trainer(
        accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
        num_nodes=args.num_nodes, precision=args.precision,
        max_steps=min(args.max_steps, args.stop_at or args.max_steps),
        max_time=args.max_time, val_check_interval=args.val_every, check_val_every_n_epoch=None,
        gradient_clip_val=args.grad_clip or None, logger=loggers, callbacks=callbacks.all(),
        log_every_n_steps=args.log_every, enable_progress_bar=not args.no_progress, num_sanity_val_steps=0,
        limit_val_batches=None,
    )
    if callbacks.exporter:
        callbacks.exporter.sequences_per_step = args.batch_size * trainer.world_size
    return trainer


def data_shape(args: argparse.Namespace) -> tuple[int, int, int, int]:
    """``(N, T, H, W)`` of the training data; for ``--data PATH.npy`` the file is checked (SystemExit
    with what is wrong) and ``args.data_layout`` becomes the layout it was read in."""
    if not is_file_data(args):
        return (0, fdata.SEQ_LEN, fdata.CANVAS, fdata.CANVAS)  # sequences drawn on the fly
    try:
        seqs, args.data_layout = read_sequence_file(args.data, args.data_layout)
    except ValueError as e:
        raise SystemExit(f"--data {args.data}: {e}") from None
    return tuple(int(n) for n in seqs.shape)


def context_and_horizon(args: argparse.Namespace, frames: int) -> tuple[int, int]:
    """``--context`` (default: half the frames) and ``--horizon`` (default: the rest); SystemExit
    when they do not fit in sequences of ``frames``."""
    context = args.context if args.context is not None else frames // 2
    horizon = args.horizon if args.horizon is not None else frames - context
    if context < 1 or horizon < 1 or context + horizon > frames:
        raise SystemExit(f"--context {context} and --horizon {horizon}: both must be at least 1 and together at most "
                         f"the {frames} frames of a training sequence")
    return context, horizon


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.push_to_hub and not args.export:  # say so now, not after hours of training
        raise SystemExit("--push-to-hub needs --export: the exported folder is what is pushed")
    if args.push_to_hub and is_file_data(args):
        raise SystemExit("--push-to-hub with --data PATH.npy: the card it writes reports framepred's MovingMNIST "
                         "test set; evaluate the export on your data, write its card, then push it "
                         "(framepred.hub.push_folder)")
    if args.export:
        check_export_target(export_target(args), args.overwrite)
    if args.threads:
        torch.set_num_threads(args.threads)
    L.seed_everything(args.seed, workers=True, verbose=False)
    shape = data_shape(args)
    context, horizon = context_and_horizon(args, shape[1])
    try:
        cfg = build_config(args, image_size=shape[2] if is_file_data(args) else None)
    except ValueError as e:  # frames that the patch size does not divide
        raise SystemExit(f"--data {args.data}: {shape[2]}x{shape[3]} frames do not suit the model: {e}") from None
    name = args.name or cfg.preset
    resumed_step = 0
    if args.resume:
        # Our own checkpoint (it holds optimizer state, so weights_only cannot read it).
        state = torch.load(args.resume, map_location="cpu", weights_only=False)
        resumed_step = int(state.get("global_step", 0))
        moments = any(o.get("state") for o in state.get("optimizer_states", []))
        if state.get("optimizer_states") and not moments and args.rewarm_steps <= 0:
            # Unpacked from a compact state (train/resume_state.py): Adam restarts from zero moments,
            # whose first steps move every weight by the full learning rate.
            raise SystemExit(f"--resume {args.resume} has no AdamW moments (a compact state): "
                             "ramp the learning rate up again with --rewarm-steps N (e.g. 100)")
        del state
    module = build_module(args, cfg, resumed_step, context, horizon)
    # A new data seed on resume, so a continued run does not replay the sequences it has seen.
    if is_file_data(args):
        dm = FileDataModule(args.data, args.data_layout, shape, context, horizon, args.batch_size,
                            val_fraction=args.val_fraction, split_seed=args.seed, seed=args.seed + resumed_step,
                            num_workers=args.num_workers)
    else:
        dm = MovingMNISTDataModule(args.batch_size, args.val_size, seed=args.seed + resumed_step,
                                   mnist_dir=args.mnist_dir, **data_settings(args))
    run_dir = Path(args.run_dir)
    loggers = make_loggers(run_dir, name)
    callbacks = make_callbacks(args, run_dir, name, argv, dm.val_set)
    trainer = make_trainer(args, loggers, callbacks)
    trainer.fit(module, datamodule=dm, ckpt_path=args.resume)
    total = callbacks.clock.total_s()
    best, last = callbacks.best, callbacks.last
    result = {
        "global_step": trainer.global_step,
        "wall_time_s": round(callbacks.clock.phase_s(), 1),
        "total_wall_time_s": None if total is None else round(total, 1),
        "best_val_mse": float(best.best_model_score) if best.best_model_score is not None else None,
        "best_checkpoint": best.best_model_path,
        "last_checkpoint": str(last.path) if last.path.is_file() else "",
        "log_dir": loggers[0].log_dir,
    }
    if trainer.is_global_zero:
        print(json.dumps(result, indent=2))
        if args.push_to_hub:
            export_dir = callbacks.exporter.out_dir
            print(f"pushed {export_dir} to {publish(export_dir, args.push_to_hub, run_dir / name)}")
    return result

if __name__ == "__main__":
    main()
