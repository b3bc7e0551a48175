"""Build the folder a Hugging Face Space needs, and nothing else.

    python scripts/make_space.py OUT              # a CPU Space (free hardware), CPU-only torch
    python scripts/make_space.py OUT --zerogpu    # a ZeroGPU Space
    python scripts/make_space.py OUT --hub-model user/repo  # also serve a Hub model, preloaded at build time
    hf upload USER/SPACE OUT . --repo-type space  # then upload it

OUT gets: app.py; the framepred library (its modules and the MNIST digits in framepred/assets);
every model the app serves from checkpoints/ (each subfolder with config.json + model.safetensors,
with its card files); examples/; requirements.txt; a README.md whose front matter configures the
Space (with --hub-model: ``models`` and ``preload_from_hub``, so the Space downloads that repo while
it is built, not when it starts); .gitattributes (binary files go through LFS, which the Hub
requires). No tests, training code or states, benchmarks, scripts or docs.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACE_MAX_BYTES = 30 * 2**20  # a Space that starts in seconds; the folder is 24.8 MB with the three shipped models
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# The torch versions the Spaces ZeroGPU documentation lists as supported ("Supported Versions",
# https://huggingface.co/docs/hub/spaces-zerogpu); the repository's own pin (2.13.0) is not among
# them, so a ZeroGPU build pins the newest listed one. The app needs torch >= 2.4 (pyproject.toml).
ZEROGPU_TORCH_VERSIONS = ("2.1.0", "2.1.1", "2.1.2", "2.2.0", "2.2.2", "2.4.0", "2.5.1", "2.6.0", "2.7.1", "2.8.0")
ZEROGPU_TORCH = ZEROGPU_TORCH_VERSIONS[-1]
# Front matter by hardware. ZeroGPU's documented Python is 3.10 (3.10.13), not the 3.11 the
# repository's CI runs, so only a ZeroGPU build says 3.10 (pyproject: requires-python >= 3.10).
HARDWARE = {
    "cpu": {"suggested_hardware": "cpu-basic", "python_version": "3.11"},
    "zerogpu": {"suggested_hardware": "zero-a10g", "python_version": "3.10"},
}
TAGS = ["video-prediction", "convlstm", "moving-mnist", "computer-vision", "pytorch"]
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # "user/repo", as the Hub spells repo ids
LIBRARY_DATA = ("assets/*.npz", "assets/README.md")  # framepred's package data (pyproject.toml)


def front_matter(readme: str) -> dict[str, str]:
    """The ``key: value`` lines of a README's YAML front matter, values kept as written."""
    match = re.match(r"---\n(.*?)\n---\n", readme, re.S)
    if not match:
        raise ValueError("README.md has no front matter (--- ... ---)")
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "-")):
            fields[key.strip()] = value.strip()
    return fields


def served_models(checkpoints: Path) -> list[Path]:
    """The model folders the app serves from ``checkpoints`` (framepred.serving.models' rule)."""
    if not checkpoints.is_dir():
        return []
    return sorted(d for d in checkpoints.iterdir()
                  if d.is_dir() and (d / "config.json").is_file() and (d / "model.safetensors").is_file())


def space_requirements(requirements: str, hardware: str) -> str:
    """The Space's requirements.txt: the repo's, with CPU-only torch wheels on a CPU Space (the
    plain pin pulls the CUDA build, GBs a CPU Space never uses) and, on ZeroGPU, the newest torch
    its documentation lists (:data:`ZEROGPU_TORCH`). ``spaces`` is never listed: ZeroGPU Spaces
    come with it."""
    lines = requirements.splitlines()
    if any(re.match(r"\s*spaces\b", line) for line in lines):
        raise ValueError("requirements.txt lists 'spaces'; a ZeroGPU Space provides it")
    pins = [i for i, line in enumerate(lines) if re.match(r"torch==[\w.]+\s*(#.*)?$", line.strip())]
    if len(pins) != 1:
        raise ValueError("requirements.txt must pin torch exactly once (torch==X.Y.Z)")
    if hardware == "cpu":
        version = lines[pins[0]].split("==")[1].split("#")[0].strip()
        lines[pins[0]] = f"torch=={version.split('+')[0]}+cpu  # CPU-only wheel: a CPU Space needs no CUDA"
        lines.insert(0, f"--extra-index-url {CPU_TORCH_INDEX}")
    else:
        lines[pins[0]] = (f"torch=={ZEROGPU_TORCH}  # not the repository's pin: the newest torch the Spaces "
                         "ZeroGPU docs list as supported")
    return "\n".join(lines) + "\n"


def space_front_matter(base: dict[str, str], hardware: str, hub_models: list[str]) -> str:
    """The Space's YAML front matter: the repo README's, with hardware, Python, tags and models.

    Hub models are listed twice: under ``models`` (the Hub links the Space to them) and under
    ``preload_from_hub`` (the Spaces config reference: entries ``repo_id [file1,file2] [revision]``;
    a bare repo id downloads the whole repo, a framepred export, into the Space's Hugging Face cache
    while the Space is built, so starting it downloads nothing)."""
    fields = dict(base)
    fields.update(HARDWARE[hardware])
    fields["python_version"] = json.dumps(fields["python_version"])  # a string: 3.10 is not 3.1
    out = ["---", *(f"{k}: {v}" for k, v in fields.items() if k not in ("tags", "models"))]
    out += ["tags:", *(f"  - {t}" for t in TAGS)]
    if hub_models:
        out += ["models:", *(f"  - {m}" for m in hub_models)]
        out += ["preload_from_hub:", *(f"  - {m}" for m in hub_models)]
    return "\n".join(out + ["---"]) + "\n"


def space_readme(front: str, title: str, models: list[Path], hub_models: list[str], hardware: str) -> str:
    """The Space's README.md: its front matter and a short page about the demo."""
    rows = []
    for d in models:
        config = json.loads((d / "config.json").read_text(encoding="utf-8"))
        layers = " + ".join(str(h) for h in config.get("hidden_dims", []))
        rows.append(f"| `{d.name}` | ConvLSTM, layers {layers}, patch {config.get('patch_size', 1)} "
                    f"| [card](checkpoints/{d.name}/README.md) |")
    rows += [f"| `{m}` (FRAMEPRED_MODEL) | from the Hub | [{m}](https://huggingface.co/{m}) |" for m in hub_models]
    where = ("on a CPU (2 predictions at once)" if hardware == "cpu"
             else "on ZeroGPU: one short GPU call per request, the page's first view computed at start-up")
    return "\n".join([
        front,
        f"# {title}: ConvLSTM video frame prediction on Moving MNIST",
        "",
        "A ConvLSTM encoder-decoder reads 10 frames of bouncing MNIST digits and predicts the next ones. "
        "Pick a held-out test sequence, generate one, draw a digit or upload a clip (`.npy` or GIF); "
        f"compare two models side by side. Runs {where}.",
        "",
        "| model | architecture | card |",
        "|---|---|---|",
        *rows,
        "",
        "API (`pip install gradio_client`):",
        "",
        "```python",
        "from gradio_client import Client",
        "gif, npy, metrics = Client(\"USER/SPACE\").predict(3, 10, api_name=\"/predict_test\")  # index, horizon",
        "```",
        "",
        "Built by `python scripts/make_space.py` from the framepred repository (MIT; the MNIST digits in "
        "`framepred/assets` are CC BY-SA 3.0).",
        "",
    ])


def space_files(repo: Path) -> list[tuple[Path, Path]]:
    """(source, path in the Space) for every file copied as it is."""
    pairs = [(repo / "app.py", Path("app.py")), (repo / ".gitattributes", Path(".gitattributes"))]
    lib = repo / "framepred"
    for src in sorted(lib.rglob("*.py")):
        if "__pycache__" not in src.parts:
            pairs.append((src, src.relative_to(repo)))
    for pattern in LIBRARY_DATA:
        pairs += [(src, src.relative_to(repo)) for src in sorted(lib.glob(pattern))]
    for model in served_models(repo / "checkpoints"):
        pairs += [(src, src.relative_to(repo)) for src in sorted(model.iterdir()) if src.is_file()]
    examples = repo / "examples"
    if examples.is_dir():
        pairs += [(src, src.relative_to(repo)) for src in sorted(examples.iterdir()) if src.is_file()]
    return pairs


def build(out: Path, *, hardware: str = "cpu", hub_models: list[str] | None = None, repo: Path = REPO) -> list[Path]:
    """Write the Space folder ``out`` (new or empty); returns the paths written, relative to it."""
    if hardware not in HARDWARE:
        raise ValueError(f"hardware must be one of {sorted(HARDWARE)}, got {hardware!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; choose a new one")
    hub_models = list(hub_models or [])
    bad = [m for m in hub_models if not HUB_ID.fullmatch(m)]
    if bad:  # written into the front matter: a wrong one would break the Space's build
        raise ValueError(f"--hub-model {bad[0]!r}: not a Hub repo id 'user/name'")
    if not served_models(repo / "checkpoints") and not hub_models:
        raise ValueError("no model to serve: checkpoints/ holds none and no --hub-model was given")
    readme = (repo / "README.md").read_text(encoding="utf-8")
    base = front_matter(readme)
    pairs = space_files(repo)
    size = sum(src.stat().st_size for src, _ in pairs)
    if size > SPACE_MAX_BYTES:
        raise ValueError(f"the Space would hold {size / 2**20:.1f} MB, more than {SPACE_MAX_BYTES / 2**20:.0f} MB")
    out.mkdir(parents=True, exist_ok=True)
    for src, rel in pairs:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
    requirements = space_requirements((repo / "requirements.txt").read_text(encoding="utf-8"), hardware)
    (out / "requirements.txt").write_text(requirements, encoding="utf-8")
    front = space_front_matter(base, hardware, hub_models)
    served = served_models(repo / "checkpoints")
    text = space_readme(front, base.get("title", "framepred"), served, hub_models, hardware)
    (out / "README.md").write_text(text, encoding="utf-8")
    return [rel for _, rel in pairs] + [Path("requirements.txt"), Path("README.md")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (new or empty)")
    parser.add_argument("--zerogpu", action="store_true",
                        help="configure a ZeroGPU Space (Python 3.10, CUDA torch) instead of a CPU Space")
    parser.add_argument("--hub-model", action="append", default=[], metavar="USER/REPO",
                        help="a Hub model the Space serves (FRAMEPRED_MODEL); listed in the front matter's models")
    args = parser.parse_args(argv)
    try:
        written = build(args.out, hardware="zerogpu" if args.zerogpu else "cpu", hub_models=args.hub_model)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = sum((args.out / p).stat().st_size for p in written)
    print(f"wrote {len(written)} files, {size / 2**20:.1f} MB, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
