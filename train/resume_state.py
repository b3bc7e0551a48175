"""Pack a Lightning checkpoint into git-sized pieces, and back.

A resume state (weights, EMA weights, AdamW moments, schedule, step, clock) of a 4-million-parameter
model is ~70 MB: too large for one file in the repository. ``pack`` moves every large tensor into
``tensors-NN.safetensors`` shards of at most ``--shard-mb`` and keeps the small remainder (steps,
hyper-parameters, callback states) in ``rest.pt``; ``unpack`` rebuilds the original checkpoint,
tensor for tensor, for ``train.py --resume``.

    python train/resume_state.py pack runs/v3/checkpoints/last.ckpt train/resume/v3/state
    python train/resume_state.py unpack train/resume/v3/state runs/v3-resume.ckpt

``rest.pt`` is a pickle of our own training run, read with ``weights_only=False`` like the Lightning
checkpoint it came from: resume only from states you made yourself.

The compact state (``pack-compact``, ~27 MB for v3, files <= 16 MiB, no pickle) keeps the EMA weights
exactly, the raw weights as a bf16 difference from them and the rest as JSON; AdamW's moments are
dropped, so a resume from it re-warms them with ``--rewarm-steps`` (train/resume/v3/README.md has
the measured cost):

    python train/resume_state.py pack-compact runs/v3/checkpoints/last.ckpt train/resume/v3/compact
    python train/resume_state.py unpack-compact train/resume/v3/compact runs/v3-resume.ckpt
    python train/train.py ... --resume runs/v3-resume.ckpt --rewarm-steps 100

``train/gpu_run.py --init`` reads a compact state directly, and writes its output as one; its float32
EMA as a model folder (for evaluate.py, model_card.py, the app):

    python train/resume_state.py export-compact OUT runs/v3-gpu-export
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

MIN_NUMEL = 4096  # tensors at least this large go to the shards; the rest stays in rest.pt
_REF = "__resume_state_tensor__"


def _split(obj, tensors: dict[str, torch.Tensor], path: str = "t"):
    """A copy of ``obj`` with every large tensor replaced by a reference into ``tensors``."""
    if isinstance(obj, torch.Tensor) and obj.numel() >= MIN_NUMEL:
        tensors[path] = obj.detach().contiguous()
        return {_REF: path}
    if isinstance(obj, dict):  # dict or OrderedDict (state dicts), kept as it was
        return type(obj)((k, _split(v, tensors, f"{path}.{k}")) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_split(v, tensors, f"{path}.{i}") for i, v in enumerate(obj))
    return obj


def _join(obj, tensors: dict[str, torch.Tensor]):
    if isinstance(obj, dict):
        if set(obj) == {_REF}:
            return tensors[obj[_REF]]
        return type(obj)((k, _join(v, tensors)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_join(v, tensors) for v in obj)
    return obj


def pack(ckpt: str | Path, out: str | Path, shard_mb: float = 18.0) -> list[Path]:
    """Write ``ckpt`` as ``out/rest.pt`` + ``out/tensors-NN.safetensors`` (each <= ``shard_mb``)."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("tensors-*.safetensors"):
        old.unlink()
    state = torch.load(ckpt, map_location="cpu", weights_only=False)  # our own run's checkpoint
    tensors: dict[str, torch.Tensor] = {}
    rest = _split(state, tensors)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, t in tensors.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > shard_mb * 1e6:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += nbytes
    written = []
    for i, shard in enumerate(shards):
        path = out / f"tensors-{i:02d}.safetensors"
        save_file(shard, str(path))
        written.append(path)
    torch.save(rest, out / "rest.pt")
    (out / "manifest.json").write_text(json.dumps({
        "source": Path(ckpt).name, "global_step": state.get("global_step"),
        "shards": [p.name for p in written], "tensors": len(tensors)}, indent=1) + "\n")
    return written + [out / "rest.pt"]


def unpack(folder: str | Path, ckpt: str | Path) -> Path:
    """Rebuild the Lightning checkpoint packed in ``folder`` at ``ckpt``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    tensors: dict[str, torch.Tensor] = {}
    for shard in sorted(folder.glob("tensors-*.safetensors")):
        tensors.update(load_file(str(shard)))
    rest = torch.load(folder / "rest.pt", map_location="cpu", weights_only=False)  # our own run's
    Path(ckpt).parent.mkdir(parents=True, exist_ok=True)
    torch.save(_join(rest, tensors), ckpt)
    return Path(ckpt)


# --------------------------------------------------------------------------------------------------
# The compact state: EMA in float32, the raw weights as a bf16 difference from it, no optimiser moments
# --------------------------------------------------------------------------------------------------
# A full state is ~4 copies of the weights (raw, EMA, AdamW's two moments): 71 MB for v3. The compact
# one keeps what cannot be rebuilt: the EMA exactly (it is what is validated and exported) and the raw
# weights to bf16 precision as their difference from the EMA (small, so its bf16 rounding is far
# below the raw weights' own step-to-step noise). AdamW's moments are dropped: a resume re-warms
# them (zero moments, bias correction restarted, learning rate ramped up again: --rewarm-steps).
#
# Files (each at most FILE_LIMIT bytes, so that they fit in git and in a device run's return):
#   model.safetensors       the EMA's upper halves: bf16, rounded; ConvLSTMSeq2Seq.from_pretrained
#                           loads it as it is (with config.json), to bf16 precision
#   model-low.safetensors   the EMA's lower halves (int16 bit patterns): with the upper ones, the
#                           float32 EMA bit for bit (join_fp32)
#   delta.safetensors       raw - EMA in bf16 (absent when the run kept no EMA)
#   config.json             the model's config (from_pretrained format)
#   manifest.json           step, EMA decay, validation score and, from a Lightning checkpoint, the
#                           rest of it (loops, callbacks, schedule, hyper-parameters) as JSON
COMPACT_FORMAT = "framepred-compact-resume/1"
FILE_LIMIT = 16 * 2**20  # bytes per file
WEIGHTS, LOW, DELTA, CONFIG, MANIFEST = ("model.safetensors", "model-low.safetensors", "delta.safetensors",
                                         "config.json", "manifest.json")
_TENSOR, _TUPLE = "__tensor__", "__tuple__"
MAX_JSON_NUMEL = 64  # tensors outside the weights (scores, counters) are scalars; refuse anything big


def split_fp32(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 ``x`` as (its upper 16 bits rounded to nearest, a bf16 tensor; its lower 16 bits, int16).

    Rounding adds half a unit of the low part (ties away from zero), so that the upper halves are an
    ordinary bf16 copy; :func:`join_fp32` undoes it exactly, since a carry happened iff the lower
    half is >= 0x8000."""
    bits = x.detach().float().contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF  # unsigned
    low = bits & 0xFFFF
    high = ((bits + 0x8000) >> 16) & 0xFFFF
    as_int16 = lambda u: (u - ((u >> 15) << 16)).to(torch.int16)  # noqa: E731  (0..65535 -> int16 bits)
    return as_int16(high).view(torch.bfloat16), as_int16(low)


def join_fp32(high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """The float32 tensor that :func:`split_fp32` split, bit for bit."""
    h = high.contiguous().view(torch.int16).to(torch.int64) & 0xFFFF
    lo = low.to(torch.int64) & 0xFFFF
    h = (h - (lo >= 0x8000).to(torch.int64)) & 0xFFFF  # undo the rounding carry
    bits = (h << 16) | lo
    return (bits - ((bits >> 31) << 32)).to(torch.int32).view(torch.float32)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_compact(folder: str | Path, weights: dict[str, torch.Tensor], raw: dict[str, torch.Tensor] | None,
                  config: dict, manifest: dict, limit: int = FILE_LIMIT) -> list[Path]:
    """Write a compact state: ``weights`` (the EMA, float32 exactly), ``raw`` (to bf16 precision as
    ``raw - weights``, or None), ``config`` and ``manifest`` (JSON; must hold ``global_step``).

    Every file is written atomically and stamped with the step, so that a reader can tell a set
    written at one moment from a mixture (:func:`read_compact` refuses one). Raises ValueError,
    before writing anything, if a file would exceed ``limit`` bytes."""
    from safetensors.torch import save

    folder = Path(folder)
    step = int(manifest["global_step"])
    stamp = {"format": COMPACT_FORMAT, "global_step": str(step)}
    parts = {name: {} for name in (WEIGHTS, LOW, DELTA)}
    for name, w in weights.items():
        parts[WEIGHTS][name], parts[LOW][name] = split_fp32(w)
        if raw is not None:
            parts[DELTA][name] = (raw[name].detach().float() - w.detach().float()).to(torch.bfloat16).contiguous()
    if raw is not None and raw.keys() != weights.keys():
        raise ValueError(f"raw and EMA weights differ in names: {sorted(raw.keys() ^ weights.keys())[:5]}")
    blobs = {name: save({k: v.cpu() for k, v in t.items()}, metadata=stamp)
             for name, t in parts.items() if t}
    blobs[CONFIG] = (json.dumps(config, indent=2) + "\n").encode()
    manifest = {"format": COMPACT_FORMAT, **manifest, "ema": raw is not None, "files": sorted(blobs),
                "names": list(weights)}  # the state dict's order (safetensors files sort their keys)
    blobs[MANIFEST] = (json.dumps(manifest, indent=1) + "\n").encode()
    too_big = {name: len(b) for name, b in blobs.items() if len(b) > limit}
    if too_big:
        raise ValueError(f"compact state files over {limit} bytes: {too_big}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, LOW, DELTA, CONFIG, MANIFEST):  # the manifest last: it names a complete set
        if name in blobs:
            _atomic_write(folder / name, blobs[name])
        elif (folder / name).exists():
            (folder / name).unlink()  # a stale file of another state (e.g. a delta of an EMA run)
    return [folder / name for name in (WEIGHTS, LOW, DELTA, CONFIG, MANIFEST) if name in blobs]


def is_compact(folder: str | Path) -> bool:
    """Whether ``folder`` holds a compact state (its manifest names the format)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("format") == COMPACT_FORMAT
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def read_compact(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, dict, dict]:
    """``(weights float32, raw float32 or None, config, manifest)`` of a compact state.

    Raises ValueError if the folder is not one, or if its files come from different steps."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = Path(folder)
    if not is_compact(folder):
        raise ValueError(f"{folder} is not a compact resume state (no {MANIFEST} of format {COMPACT_FORMAT})")
    manifest = json.loads((folder / MANIFEST).read_text())
    step = str(manifest["global_step"])
    names = [WEIGHTS, LOW] + ([DELTA] if manifest["ema"] else [])
    for name in names:
        if not (folder / name).is_file():
            raise ValueError(f"{folder}: {name} is missing")
        with safe_open(str(folder / name), "pt") as f:
            stamped = (f.metadata() or {}).get("global_step")
        if stamped != step:
            raise ValueError(f"{folder}: {name} is from step {stamped}, the manifest from step {step} "
                             "(a write was interrupted: use a complete state)")
    high, low = load_file(str(folder / WEIGHTS)), load_file(str(folder / LOW))
    weights = {k: join_fp32(high[k], low[k]) for k in manifest.get("names", sorted(high))}
    raw = None
    if manifest["ema"]:
        delta = load_file(str(folder / DELTA))
        raw = {k: weights[k] + delta[k].float() for k in weights}
    config = json.loads((folder / CONFIG).read_text())
    return weights, raw, config, manifest


def _to_json(obj, path: str = "checkpoint"):
    """``obj`` (a Lightning checkpoint without its weights) as JSON values; tuples and small tensors
    are tagged so that :func:`_from_json` restores them as they were."""
    if isinstance(obj, torch.Tensor):
        if obj.numel() > MAX_JSON_NUMEL:
            raise ValueError(f"{path}: a {tuple(obj.shape)} tensor outside the weights cannot go into JSON")
        return {_TENSOR: obj.tolist(), "dtype": str(obj.dtype).removeprefix("torch.")}
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise ValueError(f"{path}: keys {bad[:3]} are not strings")
        return {k: _to_json(v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {_TUPLE: [_to_json(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_to_json(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ValueError(f"{path}: a {type(obj).__name__} cannot go into JSON")


def _from_json(obj):
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return torch.tensor(obj[_TENSOR], dtype=getattr(torch, obj["dtype"]))
        if _TUPLE in obj:
            return tuple(_from_json(v) for v in obj[_TUPLE])
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj


def _last_val_mse(state: dict) -> float | None:
    """The validation MSE of the checkpoint's own step, where the checkpoint holds it: ModelCheckpoint
    keeps the score of its best step only, so that is this step's only when the best is this step
    (its file ``best-step=N``); otherwise None (give it with ``--val-mse``, from the run's log)."""
    step = int(state.get("global_step", -1))
    for key, cb in state.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and "'val/mse'" in key:
            score, best = cb.get("best_model_score"), Path(str(cb.get("best_model_path") or "")).stem
            if score is None or best != f"best-step={step}":
                return None
            return float(score)
    return None


def pack_compact(ckpt: str | Path, out: str | Path, limit: int = FILE_LIMIT, val_size: int = 240,
                 val_mse: float | None = None) -> list[Path]:
    """Write a Lightning checkpoint of train.py as a compact state in ``out`` (AdamW moments dropped).

    ``val_size``: the validation set the run scored its EMA on (train.py's ``--val-size``, default 240),
    recorded beside that score. ``val_mse``: that score at the checkpoint's step (its ``val/mse`` in
    the run's metrics.csv), recorded instead of the checkpoint's own when given: a GPU run's start
    check compares against it, and a checkpoint whose step was not the best so far does not hold it."""
    state = torch.load(ckpt, map_location="cpu", weights_only=False)  # our own run's checkpoint
    sd = state["state_dict"]
    model = {k.removeprefix("model."): v for k, v in sd.items() if k.startswith("model.")}
    ema = {k.removeprefix("ema."): v for k, v in sd.items() if k.startswith("ema.")}
    other = [k for k in sd if not k.startswith(("model.", "ema."))]
    if other:
        raise ValueError(f"{ckpt}: state_dict entries of neither model nor ema: {other[:5]}")
    rest = {k: v for k, v in state.items() if k != "state_dict"}
    # The optimiser keeps its hyper-parameters (param groups), not its moments: a resume starts them
    # from zero with Adam's bias correction restarted, as for a fresh optimiser.
    rest["optimizer_states"] = [{"state": {}, "param_groups": o["param_groups"]} for o in state["optimizer_states"]]
    hp = state["hyper_parameters"]
    manifest = {
        "source": Path(ckpt).name, "global_step": int(state["global_step"]), "ema_decay": hp.get("ema_decay"),
        "val_mse": _last_val_mse(state) if val_mse is None else float(val_mse), "val_size": val_size,
        "optimizer": "moments dropped: resume with --rewarm-steps",
        "lightning": _to_json(rest),
    }
    weights, raw = (ema, model) if ema else (model, None)
    return write_compact(out, weights, raw, dict(hp["config"]), manifest, limit)


def unpack_compact(folder: str | Path, ckpt: str | Path) -> Path:
    """Rebuild a Lightning checkpoint for ``train.py --resume`` from a compact state made by
    :func:`pack_compact`: the EMA exact, the raw weights to bf16 precision, no AdamW moments."""
    weights, raw, _, manifest = read_compact(folder)
    if "lightning" not in manifest:
        raise ValueError(f"{folder} holds no Lightning state (a train/gpu_run.py output?): start a run "
                         "from it with train/gpu_run.py --init, or export its weights")
    state = _from_json(manifest["lightning"])
    sd = {f"model.{k}": v for k, v in (raw if raw is not None else weights).items()}
    if raw is not None:
        sd.update({f"ema.{k}": v for k, v in weights.items()})
    state["state_dict"] = sd
    Path(ckpt).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, ckpt)
    return Path(ckpt)


def export_compact(folder: str | Path, out: str | Path) -> Path:
    """Write the float32 EMA of a compact state as a model folder (``config.json`` +
    ``model.safetensors``, what from_pretrained, evaluate.py and the app read) with a
    ``training.json`` of what the state records (step, validation, data stream)."""
    from safetensors.torch import save_file

    weights, _, config, manifest = read_compact(folder)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(out / WEIGHTS), metadata={"format": "pt"})
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    keep = ("global_step", "val_mse", "val_size", "val_set", "data", "source", "sequences_per_step")
    info = {k: manifest[k] for k in keep if manifest.get(k) is not None}
    (out / "training.json").write_text(json.dumps({**info, "ema": manifest["ema"], "exported_from": str(folder)},
                                                  indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    cmds = {}
    for name, positional, text in (
        ("pack", ("ckpt", "out"), "Lightning checkpoint -> folder of shards"),
        ("unpack", ("folder", "ckpt"), "folder of shards -> Lightning checkpoint"),
        ("pack-compact", ("ckpt", "out"), "Lightning checkpoint -> compact state (EMA, bf16 delta, JSON)"),
        ("unpack-compact", ("folder", "ckpt"), "compact state -> Lightning checkpoint without AdamW moments"),
        ("export-compact", ("folder", "out"), "compact state -> model folder (float32 EMA, config, training.json)"),
    ):
        cmds[name] = sub.add_parser(name, help=text)
        for arg in positional:
            cmds[name].add_argument(arg)
    cmds["pack"].add_argument("--shard-mb", type=float, default=18.0)
    c = cmds["pack-compact"]
    c.add_argument("--val-size", type=int, default=240, help="the run's train.py --val-size (recorded)")
    c.add_argument("--val-mse", type=float, help="the validation MSE at the checkpoint's step (metrics.csv "
                   "val/mse; needed when that step was not the run's best, whose score the checkpoint keeps)")
    args = p.parse_args(argv)
    if args.cmd == "pack":
        for path in pack(args.ckpt, args.out, args.shard_mb):
            print(path, f"{path.stat().st_size / 1e6:.1f} MB")
    elif args.cmd == "pack-compact":
        for path in pack_compact(args.ckpt, args.out, val_size=args.val_size, val_mse=args.val_mse):
            print(path, f"{path.stat().st_size / 1e6:.2f} MB")
    elif args.cmd == "export-compact":
        print(export_compact(args.folder, args.out))
    elif args.cmd == "unpack-compact":
        print(unpack_compact(args.folder, args.ckpt), "(resume it with --rewarm-steps: it has no AdamW moments)")
    else:
        print(unpack(args.folder, args.ckpt))


if __name__ == "__main__":
    main()
