"""The load / soak script in a reduced size, and the app's limits wired where they act.

benchmarks/load.py starts ``python app.py`` (the Space's own launch) on 127.0.0.1 with the tiny test
model, a small queue and small temp-file caps, so that the soak serves several times more requests
than the caps allow files: a burst over all five prediction endpoints, then a soak, no refusal and no
failure, the upload limit enforced, the temporary files bounded, the memory flat. No timings are
checked (the machine may be busy).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# As small as the app allows (it raises caps below what queued and running requests need: 5 folders and,
# with a queue of 8, 120 files). 5 clients fit in the queue: none is refused.
CAPS = {"FRAMEPRED_MAX_OUTPUT_DIRS": 1, "FRAMEPRED_MAX_CACHED_FILES": 1, "FRAMEPRED_CACHE_GRACE_S": 1,
        "FRAMEPRED_QUEUE_MAX_SIZE": 8}
CLIENTS, PER_CLIENT = 5, 2  # the burst: each of the five endpoints twice
ENDPOINTS = ("/predict_test", "/predict_generated", "/predict_upload", "/predict_drawn", "/compare_test")
SOAK = 100  # with the burst's 10: more than the caps allow (5 folders, 120 files at 2 a request)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reduced_load_and_soak(app_checkpoints, tmp_path):
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "load.py"), "--clients", str(CLIENTS),
           "--requests", str(PER_CLIENT), "--soak", str(SOAK), "--checkpoints", str(app_checkpoints),
           "--json", str(out)]
    for k, v in CAPS.items():
        cmd += ["--env", f"{k}={v}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=580, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| measurement | result |" in proc.stdout
    r = json.loads(out.read_text())

    limits = r["limits"]
    assert limits["MAX_OUTPUT_DIRS"] == 2 * limits["CONCURRENCY_LIMIT"] + 1 == 5
    assert limits["MAX_CACHED_FILES"] == 12 * (limits["QUEUE_MAX_SIZE"] + limits["CONCURRENCY_LIMIT"]) == 120
    assert limits["CACHE_GRACE_S"] == 1 and limits["QUEUE_MAX_SIZE"] == 8  # the server's environment reached the app
    served = r["burst"]["requests"] + r["soak"]["requests"]
    assert served > limits["MAX_OUTPUT_DIRS"] and 2 * served > limits["MAX_CACHED_FILES"]  # caps were reached
    assert r["upload_limit"]["status"] == 413 and r["upload_limit"]["enforced"]
    burst = r["burst"]
    assert burst["requests"] == CLIENTS * PER_CLIENT, burst
    assert burst["refusals"] == burst["failures"] == 0, burst["failure_examples"]
    assert sorted(burst["per_endpoint"]) == sorted(ENDPOINTS)
    assert all(burst["per_endpoint"][k]["n"] == 2 for k in ENDPOINTS)  # every endpoint served, mixed
    soak = r["soak"]
    assert soak["requests"] == SOAK and soak["refusals"] == soak["failures"] == 0, soak["failure_examples"]
    assert soak["within_bounds"] and not soak["settle_request_error"]
    assert soak["rss_flat"] and soak["snapshots"]["warm"]["requests_done"] == SOAK // 2
    bounds = soak["bounds"]
    for label in ("start", "warm", "middle", "end", "settled"):
        files = soak["snapshots"][label]["files"]
        assert files["output_dirs"] <= bounds["output_dirs"] and files["cache_files"] <= bounds["cache_files"]
        assert soak["snapshots"][label]["rss_mb"] > 0
    assert soak["snapshots"]["settled"]["files"]["cache_empty_tmp"] == 0  # Gradio's leftovers removed
    assert r["server_rss_mb"]["peak"] >= r["server_rss_mb"]["start"] > 0


PREDICTIONS = ("ui_predict_test", "ui_predict_generated", "ui_predict_drawn", "ui_predict_upload", "first_view",
               "ui_evaluate_set", "ui_predict_picked",
               "predict_test", "predict_generated", "predict_upload", "predict_drawn", "compare_test", "evaluate_set")


def test_limits_are_named_and_wired(app_module, app_url):
    """Each limit, as defined in its own module, is what the served app applies: the Gradio objects'
    settings and the handlers' answers, not app.py's names for the constants (copies of them)."""
    import gradio as gr

    from framepred import uploads
    from framepred.serving import files, validate

    app = app_module
    assert app.demo.max_file_size == uploads.MAX_FILE_BYTES  # set by launch(**LAUNCH_KWARGS)
    assert app.demo.delete_cache == files.DELETE_CACHE
    assert app.demo._queue.max_size == files.QUEUE_MAX_SIZE
    # Every event that predicts (UI, page load, API) is in one group: at most CONCURRENT_REQUESTS at once.
    predictions = [fn for fn in app.demo.fns.values() if fn.name in PREDICTIONS]
    assert sorted(fn.name for fn in predictions) == sorted(PREDICTIONS)
    for fn in predictions:
        assert fn.concurrency_id == app.PREDICT_GROUP and fn.concurrency_limit == files.CONCURRENT_REQUESTS
    assert validate.horizon(validate.MAX_HORIZON) == validate.MAX_HORIZON
    with pytest.raises(ValueError, match=f"from 1 to {validate.MAX_HORIZON}"):
        validate.horizon(validate.MAX_HORIZON + 1)
    with pytest.raises(gr.Error, match=f"from 1 to {validate.MAX_HORIZON}"):  # as a handler reports it
        app.API["predict_test"](0, validate.MAX_HORIZON + 1)
    assert uploads.MIN_SIDE == 4 and uploads.MAX_TOTAL_PIXELS == 64 * 2**20


def test_the_queue_is_bounded_by_the_wait_it_implies():
    """The queue holds issue #31's crowd (48 visitors at once) and no more than the last one can wait
    for (MAX_QUEUE_WAIT_S at the measured SERVED_REQUEST_S); the file cap follows it. A host may
    set it (FRAMEPRED_QUEUE_MAX_SIZE), never to unlimited."""
    import os

    from framepred.serving import files

    assert files.QUEUE_MAX_SIZE >= 48  # the crowd of issue #31: each waits for its answer
    if not os.environ.get("FRAMEPRED_QUEUE_MAX_SIZE"):
        assert files.QUEUE_MAX_SIZE * files.SERVED_REQUEST_S <= files.MAX_QUEUE_WAIT_S
        assert (files.QUEUE_MAX_SIZE + 1) * files.SERVED_REQUEST_S > files.MAX_QUEUE_WAIT_S  # not smaller either
    assert files.MAX_CACHED_FILES >= 12 * (files.QUEUE_MAX_SIZE + files.CONCURRENT_REQUESTS)
    code = "from framepred.serving import files; print(files.QUEUE_MAX_SIZE, files.MAX_CACHED_FILES)"
    for value, expected in (("200", (200, 12 * 202)), ("0", (1, 500)), ("-5", (1, 500))):
        env = {**os.environ, "FRAMEPRED_QUEUE_MAX_SIZE": value}
        env.pop("FRAMEPRED_MAX_CACHED_FILES", None)
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert tuple(map(int, out.stdout.split())) == expected


def test_temp_files_are_pruned_by_count(app_module, tmp_path):
    """Request folders beyond MAX_OUTPUT_DIRS (or older than OUTPUT_TTL_S) go; a request's folder also
    removes stale empty temp files from Gradio's cache (the app's files.clean_also; fresh ones may be
    uploads still arriving)."""
    import os
    import shutil
    import time

    from framepred.serving import files

    app = app_module
    root = tmp_path / "out"
    made = []
    for i in range(6):
        d = files.new_output_dir(root)
        assert d.parent == root and d.is_dir() and d not in made
        made.append(d)
        (d / "prediction.npy").write_bytes(b"x")
        os.utime(d, (time.time() - 100 + i, time.time() - 100 + i))  # distinct ages, oldest first
    files.prune_output_dirs(root, keep=3)
    assert sorted(root.iterdir()) == sorted(made[3:])  # the newest three are kept
    os.utime(made[3], (time.time() - files.OUTPUT_TTL_S - 5,) * 2)  # now past its time to live
    newest = files.new_output_dir(root)  # a request's folder: a pruning pass follows (a cleaner thread)
    assert files.wait_for_cleaning()
    assert sorted(root.iterdir()) == sorted([*made[4:], newest])
    assert files.MAX_OUTPUT_DIRS >= 2 * files.CONCURRENT_REQUESTS + 1  # never below what running requests need

    cache = Path(app.demo.GRADIO_CACHE)
    cache.mkdir(parents=True, exist_ok=True)
    stale, fresh = cache / "tmpfuzzstale", cache / "tmpfuzzfresh"
    stale.touch()
    fresh.touch()
    os.utime(stale, (time.time() - files.CACHE_GRACE_S - 5,) * 2)
    with files.request_dir() as d:  # what every prediction does first
        try:
            assert files.wait_for_cleaning()
            assert d.is_dir() and d.parent == files.OUTPUT_ROOT
            assert not stale.exists() and fresh.exists()
        finally:
            shutil.rmtree(d, ignore_errors=True)
            fresh.unlink()


def test_a_slow_requests_folder_is_never_pruned_while_it_writes(tmp_path):
    """Pruning goes by age: a request that outlasts MAX_OUTPUT_DIRS faster ones beside it would
    otherwise lose its folder before writing its files (seen under load as a missing prediction.npy)."""
    import os
    import time

    from framepred.serving import files

    root = tmp_path / "out"
    with files.request_dir(root) as slow:
        os.utime(slow, (time.time() - 100,) * 2)  # the oldest folder of all
        for _ in range(4):
            with files.request_dir(root) as fast:
                (fast / "prediction.npy").write_bytes(b"x")
        files.prune_output_dirs(root, keep=2)
        assert slow.is_dir()  # still writing: kept, however old
        assert len(list(root.iterdir())) == 3  # the slow one and the newest two
        (slow / "prediction.npy").write_bytes(b"x")
        os.utime(slow, (time.time() - 100,) * 2)  # (writing a file made it the newest again)
    files.prune_output_dirs(root, keep=2)
    assert not slow.exists()  # done: pruned like any other


def test_a_library_prediction_keeps_its_own_folder_while_it_writes(app_module):
    """``pipeline.predict`` without ``out_dir`` (library use) makes its own folder; another
    request's pruning while it predicts must not take it away before the GIF is written."""
    from framepred.serving import files, pipeline, sources

    def prune_everything(fraction, desc=""):  # as a burst of other requests would, mid-request
        files.prune_output_dirs(keep=0, ttl_s=0)

    result = pipeline.predict(sources.test(0), 3, progress=prune_everything)
    assert Path(result.gif).is_file() and Path(result.runs[0].npy).is_file()
    files.prune_output_dirs(keep=0, ttl_s=0)
    assert not Path(result.gif).exists()  # finished: pruned like any other
