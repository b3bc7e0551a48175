"""Load and soak test of the served demo, on loopback: many clients at once, then a long run.

    python benchmarks/load.py                      # 16 clients x 25 requests, then a soak of 500
    python benchmarks/load.py --clients 4 --requests 3 --soak 20 --json load.json   # seconds

The app is started as a Space starts it, ``python app.py`` (so the ``__main__`` launch and its
``max_file_size`` are what is measured), on 127.0.0.1 and a free port, with its own temporary
folder (``TMPDIR``) so that its files can be counted; nothing leaves this machine.

1. **Limits**: the server's config must announce ``max_file_size`` = ``uploads.MAX_FILE_BYTES``, and
   an upload one byte over it must be cut off with HTTP 413.
2. **Load**: N clients (``gradio_client``, one thread each) send M requests each, a mix of
   ``/predict_test``, ``/predict_generated`` and ``/predict_upload`` (each upload a fresh .npy or
   .gif) with random indices, seeds, speeds and horizons. Every answer is checked (prediction shape
   = horizon). Reported: failures (must be 0), p50/p90/p95/max latency per endpoint and overall,
   throughput, server memory (RSS from /proc: start, peak = VmHWM, end).
3. **Soak**: S more requests by the same clients; server RSS and the number of temporary files
   (the app's request folders, Gradio's cache) at the start, middle and end, then once more after
   ``CACHE_GRACE_S`` and one more request (``settled``). They must stay under the app's bounds
   (``MAX_OUTPUT_DIRS``, ``MAX_CACHED_FILES``: see ``framepred.serving.files``, which ``app.output_dir``
   runs before each prediction), however many requests.

Prints a markdown table, writes every number as JSON (``--json``). Exit status 1 when a request
failed or a bound was exceeded. Latencies include queueing behind the app's concurrency limit (2
predictions at once) and are inflated by anything else using the CPU (e.g. a training run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from framepred import uploads
from framepred.serving.launch import AppProcess
from framepred.timing import latency_summary

REPO = Path(__file__).resolve().parent.parent

ENDPOINTS = ("/predict_test", "/predict_generated", "/predict_upload")
STARTUP_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 300
# The app's limits, each read from where it is defined (app.py, framepred.serving.files or
# framepred.serving.validate), in a subprocess with the server's environment: see app_limits().
APP_LIMITS = ("MAX_HORIZON", "CONCURRENCY_LIMIT", "QUEUE_MAX_SIZE", "MAX_OUTPUT_DIRS", "MAX_CACHED_FILES",
              "CACHE_GRACE_S", "DELETE_CACHE", "OUTPUT_TTL_S", "MAX_FILE_SIZE")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--requests", type=int, default=25, help="requests per client in the load phase (default 25)")
    p.add_argument("--soak", type=int, default=500, help="requests in the soak phase, all clients (default 500)")
    p.add_argument("--checkpoints", help="FRAMEPRED_CHECKPOINTS_DIR for the app (default: the app's own)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the app, e.g. FRAMEPRED_MAX_OUTPUT_DIRS=5 (repeatable)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", action="store_true", help="keep the work folder (server log, temp files)")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="framepred-load-"))
    server = Server(work, args.checkpoints, dict(e.split("=", 1) for e in args.env))
    results: dict = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                     "machine": machine(), "config": vars(args).copy()}
    try:
        server.start()
        results["limits"] = server.limits
        results["upload_limit"] = check_upload_limit(server)
        clients = [Client(server.url, work / f"client{i}", args.seed * 1000 + i) for i in range(args.clients)]
        results["server_rss_mb"] = {"start": server.rss_mb()}
        results["load"] = run_phase(clients, args.requests * args.clients, server)
        results["soak"] = run_phase(clients, args.soak, server, soak=True)
        results["server_rss_mb"].update(end=server.rss_mb(), peak=server.peak_rss_mb())
    finally:
        results["server_exit"] = server.stop()
        results["server_log_tail"] = server.log_tail()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            results["work_dir"] = str(work)

    results["ok"] = ok = verdict(results)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------------
# The server: ``python app.py`` in a subprocess, on 127.0.0.1
# --------------------------------------------------------------------------------------------------
class Server:
    def __init__(self, work: Path, checkpoints: str | None, extra_env: dict[str, str]):
        self.work = work
        self.tmp = work / "tmp"  # the app's TMPDIR: its request folders and Gradio's cache
        self.tmp.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR" and not k.startswith("FRAMEPRED_")}
        env.update(TMPDIR=str(self.tmp), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        if checkpoints:
            env["FRAMEPRED_CHECKPOINTS_DIR"] = str(Path(checkpoints).resolve())
        env.update(extra_env)
        self.app = AppProcess(REPO / "app.py", env=env, cwd=REPO, log=work / "server.log",
                              startup_timeout_s=STARTUP_TIMEOUT_S)
        self.url, self.env, self.log = self.app.url, self.app.env, self.app.log
        self.limits: dict = {}

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.app.proc

    def start(self) -> None:
        self.app.start()
        self.limits = app_limits(self.env)
        self.limits["config_max_file_size"] = httpx.get(f"{self.url}/config", timeout=10).json().get("max_file_size")

    def stop(self) -> int | None:
        return self.app.stop()

    def _status(self, field: str) -> float | None:
        """A memory line of /proc/<pid>/status in MiB (Linux), or None."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB -> MiB
        except (OSError, ValueError, AttributeError):
            pass
        return None

    def rss_mb(self) -> float | None:
        return self._status("VmRSS")

    def peak_rss_mb(self) -> float | None:
        return self._status("VmHWM")

    def files(self) -> dict:
        """Temporary files of the app now: its request folders and Gradio's cache."""
        out_root, cache = self.tmp / "framepred-demo", self.tmp / "gradio"
        counts = {"output_dirs": 0, "output_files": 0, "cache_files": 0, "cache_empty_tmp": 0, "cache_dirs": 0,
                  "cache_mb": 0.0}
        if out_root.is_dir():
            for d in out_root.iterdir():
                counts["output_dirs"] += 1
                counts["output_files"] += sum(1 for f in d.rglob("*") if f.is_file())
        if cache.is_dir():
            size = 0
            for root, dirs, names in os.walk(cache):
                counts["cache_dirs"] += len(dirs)
                for name in names:
                    try:
                        st = os.lstat(os.path.join(root, name))
                    except OSError:
                        continue
                    size += st.st_size
                    if root == str(cache) and name.startswith("tmp") and st.st_size == 0:
                        counts["cache_empty_tmp"] += 1  # Gradio's leftovers (see serving.files.prune_cache)
                    else:
                        counts["cache_files"] += 1
            counts["cache_mb"] = round(size / 2**20, 1)
        return counts

    def log_tail(self, n: int = 4000) -> str:
        return self.app.log_tail(n)


LIMITS_CODE = """
import json
import app
from framepred.serving import files, validate
limits = {}
for name in %r:
    where = [m for m in (app, files, validate) if hasattr(m, name)]
    if not where:
        raise SystemExit('no limit named ' + name + ' in app, framepred.serving.files or .validate')
    limits[name] = getattr(where[0], name)
print(json.dumps(limits))
"""


def app_limits(env: dict) -> dict:
    """The app's limits as the server sees them: app.py imported with the server's environment, each
    name looked up in ``app``, then ``framepred.serving.files``, then ``framepred.serving.validate``."""
    code = LIMITS_CODE % (APP_LIMITS,)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=STARTUP_TIMEOUT_S)
    if out.returncode != 0:
        raise RuntimeError(f"cannot read the app's limits:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def post_upload(url: str, n_bytes: int) -> tuple[int, str]:
    """Stream ``n_bytes`` of zeros to ``url``'s /gradio_api/upload (generated, never held in memory at
    once); the HTTP status and text. The fuzz tests use it too."""
    def body():
        yield (b'--LOAD\r\nContent-Disposition: form-data; name="files"; filename="big.npy"\r\n'
               b"Content-Type: application/octet-stream\r\n\r\n")
        chunk, left = bytes(1 << 20), n_bytes
        while left > 0:
            yield chunk[: min(left, len(chunk))]
            left -= len(chunk)
        yield b"\r\n--LOAD--\r\n"

    r = httpx.post(f"{url}/gradio_api/upload", content=body(), timeout=120,
                   headers={"content-type": "multipart/form-data; boundary=LOAD"})
    return r.status_code, r.text


def check_upload_limit(server: Server) -> dict:
    """Stream MAX_FILE_BYTES + 1 bytes to the upload route: refused with 413 while it streams."""
    n = uploads.MAX_FILE_BYTES + 1
    t0 = time.perf_counter()
    status, text = post_upload(server.url, n)
    return {"max_file_bytes": uploads.MAX_FILE_BYTES, "config_max_file_size": server.limits["config_max_file_size"],
            "sent_bytes": n, "status": status, "message": text[:200],
            "seconds": round(time.perf_counter() - t0, 2),
            "enforced": status == 413 and server.limits["config_max_file_size"] == uploads.MAX_FILE_BYTES}


# --------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------
class Client:
    """One user: a gradio_client with its own download folder and random stream."""

    def __init__(self, url: str, folder: Path, seed: int):
        from gradio_client import Client as GradioClient

        folder.mkdir(parents=True)
        self.folder = folder
        self.rng = np.random.default_rng(seed)
        self.client = GradioClient(url, verbose=False, download_files=str(folder / "downloads"),
                                   httpx_kwargs={"timeout": 120})  # httpx defaults to 5 s
        self.n = 0

    def request(self, kind: str, max_horizon: int) -> tuple[float, str | None]:
        """One request of ``kind``; (seconds, None) or (seconds, what went wrong)."""
        from gradio_client import handle_file

        rng, self.n = self.rng, self.n + 1
        horizon = int(rng.integers(1, max_horizon + 1))
        if kind == "/predict_test":
            args = (int(rng.integers(0, 1000)), horizon)
        elif kind == "/predict_generated":
            args = (int(rng.integers(0, 2**32)), int(rng.integers(1, 4)), float(rng.choice([0.5, 1.0, 1.5, 2.0])),
                    horizon)
        else:
            args = (handle_file(str(self.new_upload())), horizon)
        t0 = time.perf_counter()
        try:
            gif, npy, report = self.client.predict(*args, api_name=kind)
            error = None
            if np.load(npy).shape != (horizon, 64, 64) or report.get("horizon") != horizon:
                error = f"wrong result: {np.load(npy).shape}, report horizon {report.get('horizon')}"
            for f in (gif, npy):  # the client's copies: not the server's files
                Path(f).unlink(missing_ok=True)
        except Exception as e:
            error = f"{type(e).__name__}: {e}"[:300]
        return time.perf_counter() - t0, error

    def new_upload(self) -> Path:
        """A fresh upload every time (distinct content, as from distinct users): .npy or GIF."""
        frames = (self.rng.random((int(self.rng.integers(11, 25)), 64, 64)) * 255).astype(np.uint8)
        path = self.folder / f"upload{self.n}"
        if self.n % 2:
            path = path.with_suffix(".npy")
            np.save(path, frames)
        else:
            path = path.with_suffix(".gif")
            imgs = [Image.fromarray(f) for f in frames]
            imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=40, loop=0)
        return path


def run_phase(clients: list[Client], n_requests: int, server: Server, soak: bool = False) -> dict:
    """``n_requests`` spread over the clients (running at once), endpoints in rotation."""
    max_horizon = int(server.limits["MAX_HORIZON"])
    lock = threading.Lock()
    records: list[tuple[str, float, str | None]] = []
    snapshots: dict = {}
    next_index = iter(range(n_requests))

    def snapshot(label: str) -> None:
        snapshots[label] = {"rss_mb": server.rss_mb(), "files": server.files(), "requests_done": len(records)}

    def worker(client: Client) -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            kind = ENDPOINTS[i % len(ENDPOINTS)]
            seconds, error = client.request(kind, max_horizon)
            with lock:
                records.append((kind, seconds, error))
                if soak and len(records) == n_requests // 2:
                    snapshot("middle")

    if soak:
        snapshot("start")
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    result = summarize(records, wall)
    result["server_rss_mb_after"] = server.rss_mb()
    if soak:
        snapshot("end")
        time.sleep(float(server.limits["CACHE_GRACE_S"]) + 1)  # leftovers older than the grace period ...
        seconds, error = clients[0].request("/predict_test", max_horizon)  # ... go with the next request
        snapshot("settled")
        result["settle_request_error"] = error
        result["snapshots"] = snapshots
        result["bounds"] = file_bounds(server.limits, len(clients))
        result["within_bounds"] = all(within(s["files"], result["bounds"]) for s in snapshots.values())
    return result


def file_bounds(limits: dict, n_clients: int) -> dict:
    """What the app's pruning guarantees, independent of the number of requests served.

    Pruning runs before each prediction, so on top of the caps come the files of requests that are
    running or finishing (at most CONCURRENCY_LIMIT, plus one that skipped pruning because another
    was pruning) and the uploads of clients waiting in the queue. Per request: one output folder
    (2 files); in Gradio's cache an upload, the GIF and the .npy.
    """
    in_flight = 2 * int(limits["CONCURRENCY_LIMIT"])
    return {"output_dirs": int(limits["MAX_OUTPUT_DIRS"]) + in_flight,
            "cache_files": int(limits["MAX_CACHED_FILES"]) + 3 * (in_flight + n_clients)}


def within(files: dict, bounds: dict) -> bool:
    return all(files[k] <= v for k, v in bounds.items())


def summarize(records: list[tuple[str, float, str | None]], wall: float) -> dict:
    def stats(seconds: list[float]) -> dict:
        return latency_summary(s * 1000 for s in seconds)

    failures = [f"{kind}: {error}" for kind, _, error in records if error]
    ok = [s for _, s, e in records if not e]
    return {
        "requests": len(records), "failures": len(failures), "failure_examples": failures[:10],
        "wall_s": round(wall, 2), "throughput_rps": round(len(records) / wall, 2) if wall else None,
        "latency": stats(ok),
        "per_endpoint": {k: stats([s for kind, s, e in records if kind == k and not e]) for k in ENDPOINTS},
    }


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def verdict(r: dict) -> bool:
    phases = [r.get("load"), r.get("soak")]
    return (all(p is not None and p["failures"] == 0 for p in phases) and r["soak"].get("within_bounds", False)
            and r.get("upload_limit", {}).get("enforced", False) and not r["soak"].get("settle_request_error"))


def machine() -> dict:
    from run import cpu_model  # benchmarks/run.py, beside this script

    cpu = cpu_model()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": cores, "load_avg_1min_at_start": load, "python": platform.python_version()}


def table(r: dict) -> str:
    load, soak, lim = r["load"], r["soak"], r["limits"]
    c = r["config"]
    rows = [
        ("machine", f"{r['machine']['cpu']}, {r['machine']['cores']} cores, load avg "
                    f"{r['machine']['load_avg_1min_at_start']:.2f} at start"),
        ("limits", f"queue {lim['QUEUE_MAX_SIZE']}, {lim['CONCURRENCY_LIMIT']} predictions at once, horizon <= "
                   f"{lim['MAX_HORIZON']}, upload <= {lim['MAX_FILE_SIZE'] // 2**20} MiB"),
        ("upload limit (python app.py)", f"{r['upload_limit']['sent_bytes']:,} bytes -> HTTP "
                                         f"{r['upload_limit']['status']} in {r['upload_limit']['seconds']} s"),
    ]
    for name, ph in (("load", load), ("soak", soak)):
        lat = ph["latency"]
        size = f"{c['clients']} clients x {c['requests']}" if name == "load" else f"{c['clients']} clients"
        rows += [
            (f"{name}: requests / failures", f"{ph['requests']} ({size}) / **{ph['failures']}**"),
            (f"{name}: latency p50 / p90 / p95 / max", f"{lat.get('median_ms')} / {lat.get('p90_ms')} / "
                                                        f"{lat.get('p95_ms')} / {lat.get('max_ms')} ms"),
            (f"{name}: throughput", f"{ph['throughput_rps']} requests/s ({ph['wall_s']} s)"),
        ]
        if name == "load":
            for k, s in ph["per_endpoint"].items():
                rows.append((f"load: {k} p50 / p90 / p95", f"{s.get('median_ms')} / {s.get('p90_ms')} / "
                                                            f"{s.get('p95_ms')} ms (n = {s['n']})"))
    rss = r["server_rss_mb"]
    rows.append(("server RSS start / peak / end", f"{rss.get('start')} / {rss.get('peak')} / {rss.get('end')} MiB"))
    for label, snap in soak["snapshots"].items():
        f = snap["files"]
        rows.append((f"soak {label} ({snap['requests_done']} done)",
                     f"RSS {snap['rss_mb']} MiB; request folders {f['output_dirs']}; Gradio cache "
                     f"{f['cache_files']} files ({f['cache_mb']} MiB) + {f['cache_empty_tmp']} empty tmp"))
    b = soak["bounds"]
    rows.append(("temp-file bounds", f"request folders <= {b['output_dirs']}, cache files <= {b['cache_files']}: "
                                     f"{'kept' if soak['within_bounds'] else '**exceeded**'}"))
    rows.append(("verdict", "**ok**" if r["ok"] else "**FAILED**"))
    lines = ["| measurement | result |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    for ph in (load, soak):
        lines += [f"failure: {f}" for f in ph["failure_examples"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
