"""The repo's ``app.py`` for the scripts in this folder: a script beside the package, not part of it,
so it is imported from its file (no ``sys.path`` edits)."""

import importlib.util
import sys
from pathlib import Path

APP_FILE = Path(__file__).resolve().parents[1] / "app.py"


def import_app():
    """Import app.py (building the demo and loading the default model, as a Space does at start-up)."""
    spec = importlib.util.spec_from_file_location("app", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module
