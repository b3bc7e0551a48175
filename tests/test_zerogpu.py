"""ZeroGPU serving (framepred.serving.zerogpu and pipeline.infer_all) with a stand-in ``spaces`` package
that counts GPU calls: every served model loaded at start-up, the first view without a GPU call, one
GPU call per request (a comparison included) with a short requested duration, and arguments that
survive the trip to ZeroGPU's worker process (pickled).

The app is imported in a child process: whether ``spaces`` imports is decided when
framepred.serving.zerogpu is imported, and the stand-in must be the ``spaces`` the app finds.
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

CALLS = []  # (function name, requested duration, number of models when the first argument is a list)


def GPU(fn=None, *, duration=60):
    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
            n_models = len(args[0]) if args and isinstance(args[0], list) else None
            CALLS.append((f.__name__, duration, n_models))
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
# What start-up kept is what the model predicts: the first view's prediction, asked of the pipeline
# again, matches the served model run now.
before = len(spaces.CALLS)
kept = pipeline.predict(sources.test(app.FIRST_VIEW_INDEX), app.DEFAULT_HORIZON, hidden=True)
run = kept.runs[0]
alone = inference.predict_with_states(models.get_model(run.key).model, kept.context, app.DEFAULT_HORIZON,
                                      dtype=inference.resolve_dtype(run.precision))
out["first_view_kept"] = {"calls": len(spaces.CALLS) - before, "key": run.key,
                          "pred_diff": float(np.abs(run.pred - alone.frames).max()),
                          "hidden_diff": max(float(np.abs(a - b).max()) for a, b in zip(run.hidden, alone.hidden)),
                          "n_hidden": [len(run.hidden), len(alone.hidden)]}
out["ui_compare"] = calls(lambda: app.ui_predict_test(5, 12, "default", "other"))
out["api_compare"] = calls(lambda: app.API["compare_test"](3, 10, None, None))
out["api_test"] = calls(lambda: app.API["predict_test"](7, 10))
out["api_generated"] = calls(lambda: app.API["predict_generated"](1, 2, 1.0, 10))
out["ui_same_as_first_view_but_compared"] = calls(
    lambda: app.ui_predict_test(app.FIRST_VIEW_INDEX, app.DEFAULT_HORIZON, "default", "other"))
# A set of 12 sequences is one batch on ZeroGPU: one GPU call for the whole evaluation.
import os, tempfile
from framepred import data as fdata
set_path = os.path.join(tempfile.mkdtemp(), "set.npy")
np.save(set_path, fdata.test_set(12))
upload = {"path": set_path, "meta": {"_type": "gradio.FileData"}}  # what Gradio hands over for an upload
out["api_evaluate_set"] = calls(lambda: app.API["evaluate_set"](upload, 5))
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


@pytest.mark.slow
def test_on_and_every_model_loaded_at_start_up(child_result):
    assert child_result["installed"] is True
    assert len(child_result["sources"]) == 2  # default and other (tests/conftest.py)
    assert child_result["loaded"] == child_result["sources"]  # each loaded once, before any request
    assert child_result["startup_calls"] == 0  # the first view was predicted on the CPU
    assert child_result["new_loads"] == []  # no request loaded a model


@pytest.mark.slow
def test_first_view_costs_no_gpu_call(child_result):
    assert child_result["first_view"] == []


@pytest.mark.slow
def test_first_view_answers_are_the_models_own(child_result):
    """What start-up kept is what the served model predicts now (prediction and hidden states)."""
    kept = child_result["first_view_kept"]
    assert kept["calls"] == 0 and kept["key"] == "default"
    assert kept["n_hidden"][0] == kept["n_hidden"][1] > 0
    assert kept["pred_diff"] < 1e-6 and kept["hidden_diff"] < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("request_name,n_models", [("ui_compare", 2), ("api_compare", 2), ("api_test", 1),
                                                   ("api_generated", 1), ("ui_same_as_first_view_but_compared", 2),
                                                   ("api_evaluate_set", 1)])
def test_one_short_gpu_call_per_request(child_result, request_name, n_models):
    from framepred.serving import zerogpu

    (call,) = child_result[request_name]  # exactly one GPU call, a comparison's two models in it
    name, duration, called_with = call
    assert name == "infer_all" and called_with == n_models
    assert duration == zerogpu.GPU_DURATION_S <= 10


@pytest.mark.slow
def test_batched_call_predicts_each_model_as_alone(child_result):
    assert child_result["keys"] == ["default", "other"]
    assert max(child_result["max_diff"]) < 1e-6


BURST = 24  # concurrent requests over the five prediction endpoints (issue #31's crowd, in small)

CROWD_CHILD = '''
import json, sys, tempfile, threading
from pathlib import Path
import spaces
import app
from benchmarks.load import ENDPOINTS, Client  # the load script's mixed requests (fresh uploads, drawings)
from framepred.serving import validate
from framepred.serving.launch import serve_in_process

n = int(sys.argv[1])
folder = Path(tempfile.mkdtemp())
errors, kinds = [], []
with serve_in_process(app.demo, **app.LAUNCH_KWARGS) as url:
    clients = [Client(url, folder / f"client{i}", i) for i in range(n)]
    start, before = threading.Barrier(n), len(spaces.CALLS)

    def one(i):
        kind = ENDPOINTS[i % len(ENDPOINTS)]
        start.wait()  # all at once
        seconds, error = clients[i].request(kind, validate.MAX_HORIZON)
        kinds.append(kind)
        if error:
            errors.append(f"{kind}: {error}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls = spaces.CALLS[before:]
print("RESULT " + json.dumps({"queue": app.files.QUEUE_MAX_SIZE, "kinds": sorted(kinds), "errors": errors,
                              "calls": calls}))
'''


@pytest.mark.slow
def test_a_burst_of_mixed_requests_makes_one_gpu_call_each(app_checkpoints, tmp_path):
    """BURST requests at once over every prediction endpoint of the served ZeroGPU-mode app: all
    queued and answered (none refused, none failed), each in exactly one GPU call (a comparison's two
    models in the same call), none more however the requests interleave."""
    from benchmarks.load import ENDPOINTS

    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEPRED_")}
    env.update(FRAMEPRED_CHECKPOINTS_DIR=str(app_checkpoints), HF_HUB_OFFLINE="1", TMPDIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]), FRAMEPRED_TORCH_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CROWD_CHILD), str(BURST)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    r = json.loads(lines[-1].removeprefix("RESULT "))
    assert r["queue"] >= BURST and r["errors"] == []
    assert sorted(r["kinds"]) == sorted(ENDPOINTS[i % len(ENDPOINTS)] for i in range(BURST))
    assert len(r["calls"]) == BURST  # one GPU call per request
    assert {name for name, _, _ in r["calls"]} == {"infer_all"}
    n_compare = r["kinds"].count("/compare_test")
    assert sorted(n for _, _, n in r["calls"]) == [1] * (BURST - n_compare) + [2] * n_compare


def test_without_spaces_nothing_changes(app_module):
    """Where ``spaces`` is not installed (this test process, a CPU Space): the model call is the plain
    function, start-up runs nothing and keeps no prediction."""
    from framepred.serving import pipeline, zerogpu

    if zerogpu.spaces_module() is not None:
        pytest.skip("a real spaces package is installed here")
    assert zerogpu.ENABLED is False and app_module.ZEROGPU is False
    assert not hasattr(pipeline.infer_all, "__wrapped__")  # not decorated
    assert zerogpu.gpu(pipeline.run_models) is pipeline.run_models
    assert zerogpu.start_up(lambda: pytest.fail("the first view must not be precomputed")) is False
    assert pipeline._kept == {}


def test_start_up_predicts_on_a_cpu_copy_of_a_model_served_elsewhere(tiny_model_dir):
    """On ZeroGPU the served models sit on CUDA, usable only inside a GPU call: the start-up
    prediction loads a CPU copy of the same weights (here the served copy is on PyTorch's ``meta``
    device, which cannot compute at all)."""
    import torch

    from framepred import inference
    from framepred.serving import models, pipeline

    elsewhere = models.LoadedModel("m", str(tiny_model_dir), tiny_model_dir,
                                   inference.load_model(tiny_model_dir, "cpu").to("meta"))
    copy = pipeline._cpu_copy(elsewhere)
    expected = inference.load_model(tiny_model_dir, "cpu").state_dict()
    assert {t.device.type for t in copy.parameters()} == {"cpu"}
    assert all(torch.equal(copy.state_dict()[k], v) for k, v in expected.items())
