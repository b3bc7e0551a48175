"""Convert a checkpoint of the seed repo into a servable ``seed``-preset model folder.

The seed (holmdk/Video-Prediction-using-PyTorch) trains ``EncoderDecoderConvLSTM`` with a PyTorch
Lightning script, which writes a ``.ckpt`` whose ``state_dict`` holds ``model.encoder_1_convlstm.conv.weight``
and so on. Our ``seed`` preset computes exactly that model, under other parameter names; this module
renames the weights and writes ``config.json`` + ``model.safetensors`` + a ``README.md`` card::

    python -m framepred.convert_seed epoch=299.ckpt checkpoints/seed

Checkpoints are pickles, and a pickle can run any code when it is loaded. This module only ever
reads them with ``torch.load(weights_only=True)`` and the few harmless classes a Lightning checkpoint
of the seed holds (:data:`SAFE_GLOBALS`); anything else is refused with a message, unexecuted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from .model import ConvLSTMConfig, ConvLSTMSeq2Seq

SEED_REPO = "holmdk/Video-Prediction-using-PyTorch"
MAX_CHECKPOINT_BYTES = 1 << 30  # the seed's checkpoint with Adam's state is ~12 MB; refuse absurd files
# Seed module name -> ours (each has .weight and .bias). The seed preset builds these exact shapes.
MODULES = {
    "encoder_1_convlstm.conv": "encoder.0.conv",
    "encoder_2_convlstm.conv": "encoder.1.conv",
    "decoder_1_convlstm.conv": "decoder.0.conv",
    "decoder_2_convlstm.conv": "decoder.1.conv",
    "decoder_CNN": "head",
}
SEED_KEYS = tuple(f"{m}.{p}" for m in MODULES for p in ("weight", "bias"))
# Where the seed's weights sit in a file: a bare state_dict, Lightning's LightningModule (``self.model``),
# or either saved from inside nn.DataParallel.
PREFIXES = ("", "model.", "module.", "module.model.", "model.module.")
# Classes the weights-only unpickler may build besides tensors and plain containers: the
# hyperparameters Lightning may store beside the weights. Plain attribute bags, no code of their own.
SAFE_GLOBALS = [argparse.Namespace]


class SeedCheckpointError(ValueError):
    """A file that is not a loadable seed checkpoint; the message is meant for the user."""


def read_checkpoint(path: str | Path) -> object:
    """The unpickled contents of ``path``, read with ``weights_only=True`` (no code is run).

    Raises :class:`SeedCheckpointError` naming what the file would need when it holds anything
    beyond tensors, plain containers and :data:`SAFE_GLOBALS` (e.g. a malicious ``__reduce__``).
    """
    path = Path(path)
    if not path.is_file():
        raise SeedCheckpointError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise SeedCheckpointError(f"{path}: {size:,} bytes; a seed checkpoint is a few MB "
                                  f"(limit {MAX_CHECKPOINT_BYTES:,})")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as e:
        lines = str(e).splitlines() or [""]
        refused = next((line for line in lines if "global" in line.lower()), None)
        if refused is None:  # not a pickle at all, or one using opcodes a checkpoint never needs
            raise SeedCheckpointError(f"{path}: not a PyTorch checkpoint that can be read safely "
                                      f"({' '.join(lines[0].split())[:200]})") from None
        # torch names the refused global (e.g. "GLOBAL posix.system"): say what the file would have run.
        raise SeedCheckpointError(
            f"{path}: refused, not loaded: it holds objects other than tensors and plain data "
            f"({' '.join(refused.split())[:200]}). Only weights are read from checkpoints, never pickled "
            "code; if you trust the file, save just its weights elsewhere with "
            "torch.save(torch.load(f, weights_only=False)['state_dict'], 'seed_weights.pt')") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        reason = " ".join(str(e).split())[:200]
        raise SeedCheckpointError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {reason})") from None


def seed_state_dict(obj: object) -> dict[str, Tensor]:
    """The seed's own weights (keys as in :data:`SEED_KEYS`) from a Lightning checkpoint dict or a
    bare state_dict; SeedCheckpointError naming the missing or unexpected keys otherwise."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # Lightning: weights beside epoch, optimizer states, hyperparameters
    if not isinstance(obj, dict) or not obj:
        raise SeedCheckpointError(f"expected a Lightning checkpoint or a state_dict, got {type(obj).__name__}")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, Tensor)}
    for prefix in PREFIXES:
        if all(prefix + k in tensors for k in SEED_KEYS):
            extra = sorted(str(k) for k in obj
                           if not (isinstance(k, str) and k.startswith(prefix) and k[len(prefix):] in SEED_KEYS))
            if extra:
                raise SeedCheckpointError(f"not the seed's EncoderDecoderConvLSTM: unexpected weights "
                                          f"{', '.join(extra[:5])}")
            return {k: tensors[prefix + k] for k in SEED_KEYS}
    found = sorted(str(k) for k in obj)[:6]
    raise SeedCheckpointError(f"not the seed's EncoderDecoderConvLSTM: expected weights such as "
                              f"'model.{SEED_KEYS[0]}', found {', '.join(found) or 'none'}")


def hyperparameters(obj: object) -> dict:
    """The training hyperparameters stored in a Lightning checkpoint (a Namespace or a dict under
    ``hparams`` / ``hyper_parameters``), as plain JSON-able values; {} when there are none."""
    if not isinstance(obj, dict):
        return {}
    raw = obj.get("hyper_parameters", obj.get("hparams"))
    if isinstance(raw, argparse.Namespace):
        raw = vars(raw)
    if not isinstance(raw, dict):
        return {}
    plain = (str, int, float, bool, type(None))
    return {str(k): v for k, v in raw.items() if isinstance(v, plain)}


def seed_config(weights: dict[str, Tensor]) -> ConvLSTMConfig:
    """The ``seed`` preset with the width (``--n_hidden_dim``) and input channels the weights have."""
    w = weights["encoder_1_convlstm.conv.weight"]  # (4 nf, in_chan + nf, 3, 3)
    if w.ndim != 4 or w.shape[0] % 4:
        raise SeedCheckpointError(f"encoder_1_convlstm.conv.weight has shape {tuple(w.shape)}, "
                                  "not a ConvLSTM gate convolution (4 nf, in + nf, k, k)")
    nf = w.shape[0] // 4
    in_chan = w.shape[1] - nf
    if in_chan < 1:
        raise SeedCheckpointError(f"encoder_1_convlstm.conv.weight has shape {tuple(w.shape)}: no input channels")
    return replace(ConvLSTMConfig.preset_config("seed"), hidden_dims=(nf, nf), channels=in_chan,
                   kernel_size=w.shape[-1])


def to_model(weights: dict[str, Tensor]) -> ConvLSTMSeq2Seq:
    """A ``seed``-preset :class:`ConvLSTMSeq2Seq` holding the seed's weights (renamed, loaded strictly)."""
    config = seed_config(weights)
    ours = {f"{MODULES[k.rsplit('.', 1)[0]]}.{k.rsplit('.', 1)[1]}": v.detach().float().contiguous()
            for k, v in weights.items()}
    model = ConvLSTMSeq2Seq(config)
    try:
        model.load_state_dict(ours, strict=True)
    except RuntimeError as e:  # shapes that do not fit one another (a different kernel per cell, ...)
        detail = " ".join(str(e).split())[:300]
        raise SeedCheckpointError(f"the weights do not form one EncoderDecoderConvLSTM: {detail}") from None
    return model.eval()


def model_card(source: Path, digest: str, checkpoint: object, config: ConvLSTMConfig, n_params: int) -> str:
    """The README.md of a converted model: where it came from and what it is (no measured results)."""
    hp = hyperparameters(checkpoint)
    trained = {k: checkpoint[k] for k in ("epoch", "global_step")
               if isinstance(checkpoint, dict) and isinstance(checkpoint.get(k), int)}
    lines = [
        "---",
        "library_name: framepred",
        "tags: [video-prediction, convlstm, moving-mnist]",
        "---",
        "",
        "# seed: EncoderDecoderConvLSTM, converted",
        "",
        f"Weights trained by the training script of [{SEED_REPO}](https://github.com/{SEED_REPO}) "
        "(`EncoderDecoderConvLSTM`), converted by `python -m framepred.convert_seed` into framepred's "
        "`seed` preset, which computes the same function (renamed weights, no retraining).",
        "",
        f"- source file: `{source.name}`, SHA-256 `{digest}`",
        f"- architecture: 2 encoder + 2 decoder ConvLSTM cells of {config.hidden_dims[0]} channels at full "
        f"{config.image_size}x{config.image_size} resolution, {config.kernel_size}x{config.kernel_size} "
        f"kernels, Conv3d head and sigmoid; {n_params:,} parameters",
        "- weights renamed: " + ", ".join(f"`{a}` -> `{b}`" for a, b in MODULES.items()),
    ]
    if trained:
        lines.append("- Lightning record: " + ", ".join(f"{k} {v}" for k, v in trained.items()))
    if hp:
        lines.append("- hyperparameters stored in the checkpoint: `" + json.dumps(hp, sort_keys=True) + "`")
    lines += [
        "",
        "Not evaluated by framepred: no held-out metrics or training range are known for these weights "
        "(`python train/evaluate.py --model <this folder>` measures them).",
        "",
    ]
    return "\n".join(lines)


def convert(checkpoint_path: str | Path, out_dir: str | Path, *, overwrite: bool = False) -> ConvLSTMSeq2Seq:
    """Read a seed checkpoint and write the model folder ``out_dir``; returns the converted model."""
    checkpoint_path, out_dir = Path(checkpoint_path), Path(out_dir)
    if (out_dir / "model.safetensors").exists() and not overwrite:
        raise SeedCheckpointError(f"{out_dir} already holds a model; choose another folder or pass --overwrite")
    checkpoint = read_checkpoint(checkpoint_path)
    model = to_model(seed_state_dict(checkpoint))
    digest = hashlib.sha256(checkpoint_path.read_bytes()).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    card = model_card(checkpoint_path, digest, checkpoint, model.config, model.num_parameters())
    (out_dir / "README.md").write_text(card, encoding="utf-8")  # replaces save_pretrained's generic card
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m framepred.convert_seed",
        description=f"Convert a {SEED_REPO} checkpoint (Lightning .ckpt or state_dict) into a framepred "
                    "'seed' model folder (config.json, model.safetensors, README.md).")
    parser.add_argument("checkpoint", type=Path, help="the seed's .ckpt (or a saved state_dict)")
    parser.add_argument("out", type=Path, help="the model folder to write, e.g. checkpoints/seed")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in OUT")
    args = parser.parse_args(argv)
    try:
        model = convert(args.checkpoint, args.out, overwrite=args.overwrite)
    except SeedCheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({model.num_parameters():,} parameters, preset {model.config.preset})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
