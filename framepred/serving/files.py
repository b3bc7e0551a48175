"""Temporary files of a busy Space, bounded in number and age (no Gradio internals here: the app
passes its cache folder and file sets in).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, MutableSet

OUTPUT_ROOT = Path(tempfile.gettempdir()) / "framepred-demo"
OUTPUT_TTL_S = 3600  # our per-request output folders are removed after 1 h ...
CONCURRENT_REQUESTS = 2  # predictions at once (the app's concurrency limit: one per core of 2)
# The queue is bounded by the wait it implies, not by a small count: a crowd (issue #31: 48 visitors at
# once, each waiting for their answer) is queued and served, and the last one in a full queue waits
# about MAX_QUEUE_WAIT_S. SERVED_REQUEST_S is the app's time per answer while it is saturated (the
# inverse of its served rate: 2 predictions at once, each on one of the 2 cores, with Gradio's own
# work and the file transfers) on the slower CPU class, AVX2 kernels in float32 (a lone request
# there: ~150 ms on 2 threads, docs/benchmarks.md Table 1). Measured 2026-12-03 with
# `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/load.py --clients 16 --requests 5
# --soak 40` (benchmarks/crowd/served_avx2.json: 0.35 s a request in the burst and in the soak) on 2
# cores shared with a training run and the clients (load average ~5): an upper bound, so the wait
# bound holds on a quieter machine too.
MAX_QUEUE_WAIT_S = 30
SERVED_REQUEST_S = 0.35
# Waiting requests beyond this are turned away (Gradio: "Queue is full", a page: "This application is
# currently busy"): a hard bound, never unlimited (FRAMEPRED_QUEUE_MAX_SIZE: at least 1). A waiting
# request holds only its arguments in memory; its upload (<= 50 MiB) is on disk in Gradio's cache,
# counted in MAX_CACHED_FILES below.
QUEUE_MAX_SIZE = max(int(os.environ.get("FRAMEPRED_QUEUE_MAX_SIZE") or MAX_QUEUE_WAIT_S // SERVED_REQUEST_S), 1)
# ... and beyond MAX_OUTPUT_DIRS, oldest first; never fewer than running requests need until Gradio
# has copied their files:
MAX_OUTPUT_DIRS = max(int(os.environ.get("FRAMEPRED_MAX_OUTPUT_DIRS") or 100), 2 * CONCURRENT_REQUESTS + 1)
# This app's files in Gradio's cache (uploads, served results) beyond this many are removed, oldest
# first; never fewer than the requests in the app (queued or running, up to 12 files each: upload,
# GIF, MP4, CSV, 2 .npy, 2 PNG strips, 2 hidden-state images, frame picture, spare) can add before
# their files are fetched:
MAX_CACHED_FILES = max(int(os.environ.get("FRAMEPRED_MAX_CACHED_FILES") or 500),
                       12 * (QUEUE_MAX_SIZE + CONCURRENT_REQUESTS))
DELETE_CACHE = (900, 3600)  # Gradio's own sweep: every 15 min, files older than 1 h
CACHE_GRACE_S = float(os.environ.get("FRAMEPRED_CACHE_GRACE_S") or 10)  # an empty temp file younger than
#   this may be an upload still arriving (older empty ones are Gradio's leftovers, see prune_cache)

_cleaning = threading.Lock()  # guards the cleaner's requests (see _clean_soon)
_to_clean: set[Path] = set()  # roots a pass was asked for
_wake, _cleaned = threading.Event(), threading.Event()  # a pass is asked for; none is pending
_cleaned.set()
_cleaner_pid: int | None = None  # the process whose cleaner thread runs
CLEAN_DELAY_S = 0.5  # a pass starts this long after it is asked for, covering the requests asked meanwhile
_clean_also: list[Callable[[], None]] = []  # what else a new request folder cleans (see clean_also)
# Folders of requests still writing them: never pruned. Pruning goes by age (mtime), and a slow
# request's folder can fall behind the newest MAX_OUTPUT_DIRS while faster ones finish beside it.
_in_use: set[Path] = set()


def clean_also(fn: Callable[[], None] | None) -> None:
    """Have ``fn`` run too whenever a request folder is made, after the old folders are pruned (the
    app: bound its files in Gradio's cache, which only it can see); None: nothing more."""
    _clean_also[:] = [] if fn is None else [fn]


@contextmanager
def request_dir(root: Path = OUTPUT_ROOT) -> Iterator[Path]:
    """:func:`new_output_dir`, kept from pruning until the ``with`` block ends (the request has
    written its files; Gradio then copies them, within the MAX_OUTPUT_DIRS margin)."""
    path = new_output_dir(root)  # the newest folder: safe from pruning until registered
    _in_use.add(path)
    try:
        yield path
    finally:
        _in_use.discard(path)


def new_output_dir(root: Path = OUTPUT_ROOT) -> Path:
    """A fresh folder for one request's files; old ones are pruned (and what :func:`clean_also`
    registered runs: the app's Gradio-cache pruning) by a cleaner thread, CLEAN_DELAY_S later, so
    that a request never waits for it nor shares the GIL with it (~10-15 ms of listing and deleting
    on a busy server, in every click before), a burst's requests share passes, and cleaning never
    fails a request. :func:`wait_for_cleaning` waits for the pass this one asked for."""
    _clean_soon(root)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="req-", dir=root))


def _clean_soon(root: Path) -> None:
    """Ask the cleaner thread (started on first use, in each process) for a pass over ``root``."""
    global _cleaner_pid
    with _cleaning:
        _to_clean.add(root)
        _cleaned.clear()
        _wake.set()
        if _cleaner_pid != os.getpid():  # none yet in this process (also: a forked child)
            _cleaner_pid = os.getpid()
            threading.Thread(target=_cleaner, name="framepred-cleaner", daemon=True).start()


def _cleaner() -> None:
    # (Not at a lower OS priority: a thread that the OS pauses while it holds the GIL would hold up
    # the requests' threads too.)
    while True:
        _wake.wait()
        time.sleep(CLEAN_DELAY_S)  # after the request that asked (a click's animation is sent in ~0.2 s)
        with _cleaning:
            roots = list(_to_clean)
            _to_clean.clear()
            _wake.clear()
        for root in roots:
            try:
                prune_output_dirs(root)
                for fn in list(_clean_also):
                    fn()
            except Exception:  # a pass that fails is retried by the next request's
                pass
        with _cleaning:
            if not _to_clean:
                _cleaned.set()


def wait_for_cleaning(timeout: float = 30) -> bool:
    """Wait until the passes asked for so far are done (tests, benchmarks); False on timeout."""
    return _cleaned.wait(timeout)


def prune_output_dirs(root: Path = OUTPUT_ROOT, keep: int = MAX_OUTPUT_DIRS, ttl_s: float = OUTPUT_TTL_S) -> None:
    """Remove request folders older than ``ttl_s`` and beyond the newest ``keep``, except those of
    requests still writing them."""
    if not root.is_dir():
        return
    now, dirs, busy = time.time(), [], set(_in_use)  # a copy: other requests add and remove
    for d in root.iterdir():
        if d in busy:
            continue
        try:
            dirs.append((d.stat().st_mtime, d))
        except OSError:
            continue
    dirs.sort(reverse=True)  # newest first
    for i, (mtime, d) in enumerate(dirs):
        if i >= keep or now - mtime > ttl_s:
            shutil.rmtree(d, ignore_errors=True)


def prune_cache(cache: str | os.PathLike, file_sets: Iterable[MutableSet[str]], keep: set[str],
                max_files: int = MAX_CACHED_FILES, max_age_s: float = DELETE_CACHE[1],
                grace_s: float = CACHE_GRACE_S) -> None:
    """Bound the app's files in Gradio's cache folder ``cache``.

    * files named in ``file_sets`` (Gradio's per-app sets of cached files; pruned names are removed
      from them) beyond the newest ``max_files`` or older than ``max_age_s`` are deleted, with the
      per-file folder Gradio made for each; names in ``keep`` (examples) are never touched. Gradio's
      own sweep goes by age only and stops for good if a request adds a file while it runs;
    * Gradio 6.31's ``gr.File`` preprocessing leaves an empty ``tmp*`` file in the cache on every
      upload request; empty ones older than ``grace_s`` are removed (younger ones may be uploads
      still arriving).
    """
    cache = Path(cache).resolve()
    files = []
    for file_set in list(file_sets):
        for name in list(file_set):  # a copy: Gradio adds files from other threads
            if name in keep:
                continue
            try:
                files.append((os.lstat(name).st_mtime, name, file_set))
            except OSError:
                file_set.discard(name)  # already gone
    files.sort(key=lambda f: f[0], reverse=True)  # newest first
    now = time.time()
    for i, (mtime, name, file_set) in enumerate(files):
        if i < max_files and now - mtime <= max_age_s:
            continue
        try:
            os.remove(name)
        except OSError:
            pass
        file_set.discard(name)
        parent = Path(name).resolve().parent
        if parent.parent == cache:  # Gradio's per-file folder: removed once empty
            try:
                parent.rmdir()
            except OSError:
                pass
    if not cache.is_dir():
        return
    with os.scandir(cache) as entries:
        for entry in entries:
            if entry.name.startswith("tmp") and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                if st.st_size == 0 and now - st.st_mtime > grace_s:
                    try:
                        os.remove(entry.path)
                    except OSError:
                        pass
