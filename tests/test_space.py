"""scripts/make_space.py: the Space folder holds exactly what a Space needs, is small, has every
binary under an LFS rule, and serves /predict_test from a fresh venv that has only its
requirements.txt, built and started with the commands of the README's Space section.

The serving test installs the requirements into a new venv (torch from this machine's disk) and
starts the app: about two minutes; it stays in the default suite because it is the only check that
the folder works on its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from framepred.serving.launch import AppProcess

REPO = Path(__file__).resolve().parents[1]


def _import_script(name: str):
    """A script of scripts/ (beside the package, not part of it), imported from its file."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_space = _import_script("make_space")

SPACE_TOP = {".gitattributes", "README.md", "app.py", "framepred", "checkpoints", "examples", "requirements.txt"}


def readme_space_commands() -> list[str]:
    """The shell lines of the README's Space section code block (what this file runs)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Deploying as a Hugging Face Space", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's Space section has no bash block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def command(prefix: str) -> str:
    matches = [c for c in readme_space_commands() if c.startswith(prefix)]
    assert len(matches) == 1, f"README's Space section: expected one command starting {prefix!r}"
    return matches[0]


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    """The Space folder, built by the README's command (its folder name replaced by a temp path)."""
    root = tmp_path_factory.mktemp("space")
    argv = shlex.split(command("python scripts/make_space.py"))
    assert argv[2] == "space", "the README builds the folder 'space'"
    out = root / "space"
    subprocess.run([sys.executable, "scripts/make_space.py", str(out), *argv[3:]], cwd=REPO, check=True)
    return out


def files_under(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def test_holds_exactly_what_the_space_needs(space):
    assert {p.name for p in space.iterdir()} == SPACE_TOP
    files = files_under(space)
    assert not [p for p in files if "__pycache__" in p.parts or p.suffix in (".pyc", ".ckpt")]
    # The whole library (every module, the digits), as in the repository.
    repo_lib = {p.relative_to(REPO) for p in (REPO / "framepred").rglob("*.py") if "__pycache__" not in p.parts}
    assert {p for p in files if p.parts[0] == "framepred" and p.suffix == ".py"} == repo_lib
    assert Path("framepred/assets/mnist_5k.npz") in files
    # Every model the app serves from checkpoints/, with its card files; nothing else from the repo.
    served = {d.name for d in make_space.served_models(REPO / "checkpoints")}
    assert {"default", "v1-speed1"} <= served
    assert {p.name for p in (space / "checkpoints").iterdir()} == served
    for name in served:
        assert sorted(p.name for p in (space / "checkpoints" / name).iterdir()) == \
            sorted(p.name for p in (REPO / "checkpoints" / name).iterdir() if p.is_file())
    assert {p.name for p in (space / "examples").iterdir()} == {p.name for p in (REPO / "examples").iterdir()}


def test_small_and_every_binary_under_an_lfs_rule(space, tmp_path):
    sizes = [p.stat().st_size for p in space.rglob("*") if p.is_file()]
    assert sum(sizes) <= 30 * 2**20
    # The README's figure is the folder's, as make_space.py prints it (MB of 2**20 bytes, one decimal).
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Deploying as a Hugging Face Space", 1)[1]
    claimed = re.search(r"the folder is ([\d.]+) MB", section)
    assert claimed, "the README's Space section states the folder's size"
    assert float(claimed.group(1)) == round(sum(sizes) / 2**20, 1)

    def binary(path: Path) -> bool:
        data = path.read_bytes()
        if b"\0" in data[:8000]:
            return True
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    binaries = [p for p in files_under(space) if binary(space / p)]
    assert {p.suffix for p in binaries} >= {".safetensors", ".npz", ".npy", ".gif", ".png"}
    # git reads the folder's own .gitattributes (git-lfs itself is not needed to evaluate the rules).
    git_dir = tmp_path / "git"
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    out = subprocess.run(["git", f"--git-dir={git_dir}", f"--work-tree={space}", "check-attr", "filter", "--stdin"],
                         input="\n".join(map(str, binaries)), capture_output=True, text=True, check=True).stdout
    uncovered = [line for line in out.splitlines() if not line.endswith(": filter: lfs")]
    assert len(out.splitlines()) == len(binaries) and not uncovered


def test_repository_binaries_are_under_lfs_rules():
    """The repository's own binaries (weights, training states, arrays, images) too: a push of the
    repository itself needs them in LFS."""
    eol = subprocess.run(["git", "ls-files", "--eol"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    binaries = [line.split("\t")[-1] for line in eol.splitlines() if line.split()[0] == "i/-text"]
    # Weights and the compact training state are safetensors; arrays and pictures are there too.
    assert {".safetensors", ".npz", ".png"} <= {Path(b).suffix for b in binaries}
    out = subprocess.run(["git", "check-attr", "filter", "--stdin"], cwd=REPO, input="\n".join(binaries),
                         capture_output=True, text=True, check=True).stdout
    assert [line for line in out.splitlines() if not line.endswith(": filter: lfs")] == []


def test_front_matter_and_requirements(space, tmp_path):
    readme = (space / "README.md").read_text(encoding="utf-8")
    front = make_space.front_matter(readme)
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert front["suggested_hardware"] == "cpu-basic" and front["python_version"] == '"3.11"'
    assert re.search(r"\ntags:\n(  - [\w-]+\n)+", readme)
    requirements = (space / "requirements.txt").read_text()
    gradio_pin = re.search(r"^gradio(?:\[[\w,]+\])?==([\w.]+)", requirements, re.M).group(1)
    assert front["sdk_version"] == gradio_pin  # the Space's Gradio is the one the app was tested with
    assert re.search(r"^torch==[\d.]+\+cpu\b", requirements, re.M)
    assert requirements.startswith(f"--extra-index-url {make_space.CPU_TORCH_INDEX}\n")
    assert not re.search(r"^spaces\b", requirements, re.M)

    assert "preload_from_hub" not in readme  # nothing to preload: the models are in the folder


def test_zerogpu_pins_a_documented_torch_and_a_hub_model_is_preloaded(tmp_path, capsys):
    """--zerogpu: a torch from the Spaces ZeroGPU docs' list (not the repository's pin); --hub-model:
    listed in `models` and in `preload_from_hub` (repo ids, the config reference's format), so the
    Space downloads it at build time. A malformed id is refused before anything is written."""
    zero = tmp_path / "zero"
    assert make_space.main([str(zero), "--zerogpu", "--hub-model", "someone/framepred-v2",
                            "--hub-model", "other/model.v3"]) == 0
    zreadme = (zero / "README.md").read_text(encoding="utf-8")
    zfront = make_space.front_matter(zreadme)
    assert zfront["suggested_hardware"] == "zero-a10g" and zfront["python_version"] in ('"3.10"', '"3.12"')
    head = zreadme.split("\n---\n", 1)[0]
    assert "\nmodels:\n  - someone/framepred-v2\n  - other/model.v3\n" in head
    assert head.endswith("\npreload_from_hub:\n  - someone/framepred-v2\n  - other/model.v3")
    zreq = (zero / "requirements.txt").read_text()
    pinned = re.findall(r"^torch==([\w.+]+)\s", zreq, re.M)
    assert pinned == [make_space.ZEROGPU_TORCH] and pinned[0] in make_space.ZEROGPU_TORCH_VERSIONS
    assert "+cpu" not in zreq and "whl/cpu" not in zreq
    assert not re.search(r"^spaces\b", zreq, re.M)

    assert make_space.main([str(tmp_path / "bad"), "--hub-model", "someone/a b"]) == 2
    assert "not a Hub repo id" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_refuses_a_folder_in_use(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert make_space.main([str(tmp_path)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_serves_predict_test_from_a_fresh_venv(space):
    """The README's commands: a new venv with only the folder's requirements.txt, then ``python
    app.py`` inside the folder; /predict_test returns the shipped default model's prediction."""
    from gradio_client import Client

    from framepred.data import test_set
    from framepred.inference import load_model, predict

    venv_cmd = command("python3.11 -m venv")
    assert venv_cmd == "python3.11 -m venv space-venv && space-venv/bin/pip install -r space/requirements.txt"
    assert command("cd space &&") == "cd space && ../space-venv/bin/python app.py"
    root = space.parent
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FRAMEPRED_", "VIRTUAL_ENV", "PYTHON", "GRADIO_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    # Offline here: pip would retry the unreachable CPU-wheel index (download.pytorch.org) for every
    # package (~9 s each); without retries it goes on at once to the wheels on this machine's disk.
    env["PIP_RETRIES"] = "0"
    subprocess.run(venv_cmd, shell=True, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    # Nothing from this repository's environment: the venv has the folder's requirements only.
    site = subprocess.run([str(root / "space-venv/bin/python"), "-c", "import framepred"], cwd=root,
                          env=env, capture_output=True)
    assert site.returncode != 0

    # `cd space && ../space-venv/bin/python app.py`, through the one app harness.
    app = AppProcess(space / "app.py", python=root / "space-venv" / "bin" / "python", cwd=space,
                     env={**env, "HF_HUB_OFFLINE": "1", "FRAMEPRED_DTYPE": "float32"},  # float32: compared below
                     log=root / "server.log", startup_timeout_s=300)
    with app:
        gif, npy, report = Client(app.url + "/", verbose=False).predict(3, 10, api_name="/predict_test")
    report = report if isinstance(report, dict) else json.loads(report)
    assert report["model"] == "default" and report["horizon"] == 10
    assert Path(gif).read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    served = np.load(npy)
    expected = predict(load_model(REPO / "checkpoints" / "default", "cpu"), test_set(4)[3][:10], horizon=10)
    assert served.shape == (10, 64, 64)
    assert np.abs(served - expected).max() < 1e-4  # the shipped weights, served as they predict here
