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
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack", help="Lightning checkpoint -> folder of shards")
    a.add_argument("ckpt")
    a.add_argument("out")
    a.add_argument("--shard-mb", type=float, default=18.0)
    b = sub.add_parser("unpack", help="folder of shards -> Lightning checkpoint")
    b.add_argument("folder")
    b.add_argument("ckpt")
    args = p.parse_args(argv)
    if args.cmd == "pack":
        for path in pack(args.ckpt, args.out, args.shard_mb):
            print(path, f"{path.stat().st_size / 1e6:.1f} MB")
    else:
        print(unpack(args.folder, args.ckpt))


if __name__ == "__main__":
    main()
