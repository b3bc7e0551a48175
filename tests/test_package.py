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
