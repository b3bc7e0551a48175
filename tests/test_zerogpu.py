"""ZeroGPU serving (framepred.serving.zerogpu) with a stand-in ``spaces`` package that counts GPU
calls: every served model loaded at start-up, the first view without a GPU call, one GPU call per
request (a comparison included) with a short requested duration, and arguments that survive the
trip to ZeroGPU's worker process (pickled).

The app is imported in a child process: installing ZeroGPU serving changes the pipeline module of
that process, and the stand-in must be the ``spaces`` the app finds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FAKE_SPACES = '''
"""Stand-in for Hugging Face's ``spaces`` package: GPU() records each call and its requested
duration, and pickles arguments and results as ZeroGPU does between the app and its GPU worker."""
import functools
import pickle

CALLS = []  # (function name, requested duration, number of jobs when the first argument is a list)


def GPU(fn=None, *, duration=60):
    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
            jobs = len(args[0]) if args and isinstance(args[0], list) else None
            CALLS.append((f.__name__, duration, jobs))
            return pickle.loads(pickle.dumps(f(*args, **kwargs)))
        return wrapper
    return decorate(fn) if callable(fn) else decorate
'''

CHILD = '''
import json, sys
import numpy as np
import spaces
from framepred import inference

LOADED = []  # every model loaded from disk (the library's one loader), counted and then run as usual
_load_model = inference.load_model
inference.load_model = lambda source, *a, **k: LOADED.append(str(source)) or _load_model(source, *a, **k)

import app
from framepred.serving import models, pipeline, sources, zerogpu

out = {"installed": app.ZEROGPU, "startup_calls": len(spaces.CALLS), "loaded": sorted(LOADED),
       "sources": sorted(models.model_sources().values())}
at_start = len(LOADED)

def calls(fn):
    before = len(spaces.CALLS)
    fn()
    return spaces.CALLS[before:]

out["first_view"] = calls(lambda: app.first_view(None, app.NO_COMPARE))
out["ui_compare"] = calls(lambda: app.ui_predict_test(5, 12, "default", "other"))
out["api_compare"] = calls(lambda: app.compare_test(3, 10, None, None))
out["api_test"] = calls(lambda: app.predict_test(7, 10))
out["api_generated"] = calls(lambda: app.predict_generated(1, 2, 1.0, 10))
out["new_loads"] = LOADED[at_start:]

# The batched call predicts each model as a call of its own would: keys not mixed up.
result = pipeline.compare(sources.test(11), 10)
ctx = result.context
for run in result.runs:
    alone = inference.predict(models.get_model(run.key).model, ctx, 10, dtype=inference.resolve_dtype(run.precision))
    out.setdefault("max_diff", []).append(float(np.abs(run.pred - alone).max()))
out["keys"] = [r.key for r in result.runs]
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def child_result(app_checkpoints, tmp_path_factory):
    fake = tmp_path_factory.mktemp("fake_spaces")
    (fake / "spaces.py").write_text(FAKE_SPACES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEPRED_")}
    env.update(FRAMEPRED_CHECKPOINTS_DIR=str(app_checkpoints), HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(fake), str(REPO)]), FRAMEPRED_TORCH_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_installed_and_every_model_loaded_at_start_up(child_result):
    assert child_result["installed"] is True
    assert len(child_result["sources"]) == 2  # default and other (tests/conftest.py)
    assert child_result["loaded"] == child_result["sources"]  # each loaded once, before any request
    assert child_result["startup_calls"] == 0  # the first view was computed on the CPU
    assert child_result["new_loads"] == []  # no request loaded a model


def test_first_view_costs_no_gpu_call(child_result):
    assert child_result["first_view"] == []


@pytest.mark.parametrize("request_name,jobs", [("ui_compare", 2), ("api_compare", 2), ("api_test", 1),
                                               ("api_generated", 1)])
def test_one_short_gpu_call_per_request(child_result, request_name, jobs):
    from framepred.serving import zerogpu

    (call,) = child_result[request_name]  # exactly one GPU call, a comparison's two models in it
    name, duration, n_jobs = call
    assert name == "run_jobs" and n_jobs == jobs
    assert duration == zerogpu.GPU_DURATION_S <= 10


def test_batched_call_predicts_each_model_as_alone(child_result):
    assert child_result["keys"] == ["default", "other"]
    assert max(child_result["max_diff"]) < 1e-6


def test_without_spaces_nothing_changes():
    """Where ``spaces`` is not installed (this test process, a CPU Space), install() is a no-op."""
    from framepred.serving import pipeline, zerogpu

    if zerogpu.spaces_module() is not None:
        pytest.skip("a real spaces package is installed here")
    before = (pipeline.infer, pipeline.predict, pipeline.compare)
    assert zerogpu.install(pipeline, warm=lambda: pytest.fail("warm must not run")) is False
    assert (pipeline.infer, pipeline.predict, pipeline.compare) == before
