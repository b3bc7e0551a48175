"""The library as a user gets it: every third-party module it imports is declared in
pyproject.toml, and the built wheel, installed alone into a fresh venv, makes a GIF and looks for
served models in ./checkpoints.

The fresh-venv test needs pip to reach an index for framepred's dependencies (torch 2.13.0 comes
from this machine's local wheels); it takes a minute or two.
"""

import ast
import os
import shutil
import subprocess
import sys
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent
GUARDS = {"ImportError", "ModuleNotFoundError"}


def _guarded(node: ast.Try) -> bool:
    """Whether a ``try`` block catches a failed import (an optional dependency)."""
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in GUARDS for n in names):
            return True
    return False


def _unguarded_imports(tree: ast.AST) -> set[str]:
    """Top-level names of the absolute imports in ``tree`` that are not inside an ImportError guard."""
    found: set[str] = set()

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import) and not guarded:
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not guarded and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        if isinstance(node, ast.Try):
            for child in node.body:
                visit(child, guarded or _guarded(node))
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, guarded)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child, guarded)

    visit(tree, False)
    return found


def _declared() -> set[str]:
    """The distributions pyproject.toml's ``dependencies`` name, normalised."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = set()
    for dep in deps:
        name = dep.split(";")[0]
        for sep in "<>=!~[ ":
            name = name.split(sep)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


def test_every_third_party_import_of_framepred_is_declared():
    modules: dict[str, list[str]] = {}
    for path in sorted((REPO / "framepred").rglob("*.py")):
        for name in _unguarded_imports(ast.parse(path.read_text(encoding="utf-8"))):
            modules.setdefault(name, []).append(str(path.relative_to(REPO)))
    third_party = {m: where for m, where in modules.items()
                   if m not in sys.stdlib_module_names and m not in ("framepred", "__future__")}
    assert {"torch", "numpy", "PIL"} <= set(third_party)  # the scan sees the imports at all
    dists = packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, where in third_party.items():
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not names & declared:
            undeclared[module] = where
    assert not undeclared, f"imported by framepred but not in pyproject.toml's dependencies: {undeclared}"


def test_the_guard_scan_tells_guarded_from_unguarded_imports():
    tree = ast.parse("import a\ntry:\n    import b\nexcept ImportError:\n    import c\n"
                     "try:\n    from d import x\nexcept (ValueError, ModuleNotFoundError):\n    pass\n"
                     "def f():\n    from e.f import g\n")
    assert _unguarded_imports(tree) == {"a", "c", "e"}


MAKE_GIF = """
import sys
from pathlib import Path

import framepred
from framepred import viz
from framepred.config import ConvLSTMConfig
from framepred.data import test_set
from framepred.inference import predict
from framepred.model import ConvLSTMSeq2Seq

assert Path(framepred.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), framepred.__file__
seq = test_set(1)[0] / 255.0
pred = predict(ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")), seq[:10], horizon=10)
print(viz.save_sequence_gif(sys.argv[1], seq[:10], seq[10:], pred))

from framepred.serving.models import checkpoints_dir  # served models: ./checkpoints, not site-packages

assert checkpoints_dir() == Path.cwd().resolve() / "checkpoints", checkpoints_dir()
"""


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_wheel_installs_into_a_fresh_venv_and_makes_a_gif(tmp_path):
    # Built from a copy of what the wheel is made of: setuptools builds in the source tree (build/),
    # which another build running in the checkout at the same time would share.
    src = tmp_path / "src"
    shutil.copytree(REPO / "framepred", src / "framepred", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-w", str(wheels), "-q"],
                   check=True, cwd=tmp_path, timeout=600)
    (wheel,) = wheels.glob("framepred-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel), "torch==2.13.0"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-3000:]
    gif = tmp_path / "out.gif"
    # The defaults, not the suite's; and no PYTHONPATH, which may point at a checkout and shadow the install.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEPRED_") and k != "PYTHONPATH"}
    run = subprocess.run([str(python), "-c", MAKE_GIF, str(gif)], capture_output=True, text=True,
                         cwd=tmp_path, env=clean, timeout=600)  # cwd outside the checkout: the installed copy
    assert run.returncode == 0, run.stderr[-3000:]
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 20 and im.size[0] > im.size[1]
