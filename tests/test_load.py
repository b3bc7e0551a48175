"""The load / soak script in a reduced size, and the app's limits wired where they act.

benchmarks/load.py starts ``python app.py`` (the Space's own launch) on 127.0.0.1 with the tiny test
model and small temp-file caps, so that the soak serves several times more requests than the caps
allow files: no failure, the upload limit enforced, the temporary files bounded. No timings are
checked (the machine may be busy).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# As small as the app allows (it raises caps below what in-flight requests need: 5 and 108 files).
CAPS = {"FRAMEPRED_MAX_OUTPUT_DIRS": 1, "FRAMEPRED_MAX_CACHED_FILES": 1, "FRAMEPRED_CACHE_GRACE_S": 1}
SOAK = 60


@pytest.mark.timeout(600)
def test_reduced_load_and_soak(app_checkpoints, tmp_path):
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "load.py"), "--clients", "4", "--requests", "3",
           "--soak", str(SOAK), "--checkpoints", str(app_checkpoints), "--json", str(out)]
    for k, v in CAPS.items():
        cmd += ["--env", f"{k}={v}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=580, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| measurement | result |" in proc.stdout
    r = json.loads(out.read_text())

    limits = r["limits"]
    assert limits["MAX_OUTPUT_DIRS"] == 2 * limits["CONCURRENCY_LIMIT"] + 1 == 5
    assert limits["MAX_CACHED_FILES"] == 6 * (limits["QUEUE_MAX_SIZE"] + limits["CONCURRENCY_LIMIT"]) == 108
    served = r["load"]["requests"] + r["soak"]["requests"]
    assert served > limits["MAX_OUTPUT_DIRS"] and 2 * served > limits["MAX_CACHED_FILES"]  # caps were reached
    assert r["upload_limit"]["status"] == 413 and r["upload_limit"]["enforced"]
    assert r["load"]["requests"] == 12 and r["load"]["failures"] == 0, r["load"]["failure_examples"]
    assert all(r["load"]["per_endpoint"][k]["n"] == 4 for k in ("/predict_test", "/predict_generated",
                                                              "/predict_upload"))
    soak = r["soak"]
    assert soak["requests"] == SOAK and soak["failures"] == 0, soak["failure_examples"]
    assert soak["within_bounds"] and not soak["settle_request_error"]
    bounds = soak["bounds"]
    for label in ("start", "middle", "end", "settled"):
        files = soak["snapshots"][label]["files"]
        assert files["output_dirs"] <= bounds["output_dirs"] and files["cache_files"] <= bounds["cache_files"]
        assert soak["snapshots"][label]["rss_mb"] > 0
    assert soak["snapshots"]["settled"]["files"]["cache_empty_tmp"] == 0  # Gradio's leftovers removed
    assert r["server_rss_mb"]["peak"] >= r["server_rss_mb"]["start"] > 0


def test_limits_are_named_and_wired(app_module, app_url):
    """Each limit is a named constant, and is the one the app actually applies."""
    import gradio as gr

    app, uploads = app_module, app_module.uploads
    assert app.LAUNCH_KWARGS["max_file_size"] == app.MAX_FILE_SIZE == uploads.MAX_FILE_BYTES
    assert app.MAX_FILE_SIZE == uploads.MAX_FILE_BYTES == app.demo.max_file_size
    assert app.demo.delete_cache == app.DELETE_CACHE
    assert app.demo._queue.max_size == app.QUEUE_MAX_SIZE
    predictions = [fn for fn in app.demo.fns.values()
                   if fn.name in ("ui_predict_test", "ui_predict_generated", "ui_predict_upload",
                                  "predict_test", "predict_generated", "predict_upload")]
    assert len(predictions) == 6
    for fn in predictions:  # one group: at most CONCURRENCY_LIMIT predictions at once, all endpoints
        assert fn.concurrency_id == app.PREDICT_GROUP and fn.concurrency_limit == app.CONCURRENCY_LIMIT
    assert app.check_horizon(app.MAX_HORIZON) == app.MAX_HORIZON
    with pytest.raises(gr.Error, match=f"from 1 to {app.MAX_HORIZON}"):
        app.check_horizon(app.MAX_HORIZON + 1)
    assert uploads.MIN_SIDE == 4 and uploads.MAX_TOTAL_PIXELS == 64 * 2**20


def test_temp_files_are_pruned_by_count(app_module, tmp_path, monkeypatch):
    """Request folders beyond MAX_OUTPUT_DIRS and stale empty temp files in Gradio's cache go."""
    import os
    import time

    app = app_module
    monkeypatch.setattr(app, "OUTPUT_ROOT", tmp_path / "out")
    monkeypatch.setattr(app, "MAX_OUTPUT_DIRS", 3)
    for i in range(6):
        d = app.new_output_dir()
        (d / "prediction.npy").write_bytes(b"x")
        os.utime(d, (time.time() - 100 + i, time.time() - 100 + i))  # distinct ages, oldest first
    app.clean_temp_files()
    assert len(list((tmp_path / "out").iterdir())) == 3
    cache = Path(app.demo.GRADIO_CACHE)
    cache.mkdir(parents=True, exist_ok=True)
    stale, fresh = cache / "tmpfuzzstale", cache / "tmpfuzzfresh"
    stale.touch()
    fresh.touch()
    os.utime(stale, (time.time() - app.CACHE_GRACE_S - 5,) * 2)
    app.clean_temp_files()
    assert not stale.exists() and fresh.exists()
    fresh.unlink()
