"""The library stands alone: no module of framepred imports gradio (the app's UI) or the app."""

import pkgutil
import subprocess
import sys

import framepred


def test_no_framepred_module_imports_gradio_or_the_app():
    names = [m.name for m in pkgutil.walk_packages(framepred.__path__, "framepred.")]
    assert {"framepred.serving.pipeline", "framepred.sketch", "framepred.fast_conv"} <= set(names)
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'app', 'train')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


FRONT_ENDS = ("cli.py",)  # framepred's own front end: the command line, on top of serving as the app is


def test_layers_import_downwards_only():
    """library (framepred/*.py) -> serving (framepred/serving/) -> app and the command line
    (framepred/cli.py): the library never imports the serving layer or the command line, serving
    never imports the command line (the app and gradio are covered above)."""
    import ast
    from pathlib import Path

    root = Path(framepred.__file__).parent
    library = [p for p in root.glob("*.py") if p.name not in FRONT_ENDS]
    assert len(library) > 5 and all((root / name).is_file() for name in FRONT_ENDS)
    for path in library + sorted((root / "serving").glob("*.py")):
        upward = (".serving", "framepred.serving") if path.parent == root else ()
        upward += tuple(f"{dots}{name[:-3]}" for name in FRONT_ENDS for dots in (".", "..", "framepred."))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                names = [base] + [f"{base}.{a.name}" if node.module else f"{base}{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad = [n for n in names if any(n == u or n.startswith(u + ".") for u in upward)]
            assert not bad, f"{path.name} imports a layer above it: {bad}"
