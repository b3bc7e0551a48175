"""Load and soak test of the served demo, on loopback: a crowd at once, then a long run.

    python benchmarks/load.py                      # a burst of 48 clients x 8 requests, then a soak of 2000
    python benchmarks/load.py --clients 4 --requests 2 --soak 20 --json load.json   # a minute

The app is started as a Space starts it, ``python app.py`` (so the ``__main__`` launch and its
``max_file_size`` are what is measured), on 127.0.0.1 and a free port, with its own temporary
folder (``TMPDIR``) so that its files can be counted; nothing leaves this machine. The app gets this
process's environment: ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/load.py``
measures the common CPU's path (AVX2 kernels, float32).

1. **Limits**: the server's config must announce ``max_file_size`` = ``uploads.MAX_FILE_BYTES``, and
   an upload one byte over it must be cut off with HTTP 413.
2. **Burst**: N clients (``gradio_client``, one thread each) are released at the same instant and
   each sends M requests, one after the other (each waits for its answer), a mix of all five
   prediction endpoints (``ENDPOINTS``: a test sequence, a generated one, an upload (a fresh .npy or
   .gif each time), a drawn digit (a fresh PNG) and a comparison of two models) with random
   indices, seeds, speeds, angles and horizons. Every answer is checked (prediction shape =
   horizon). The default, 48 x 8, is issue #31's crowd: more clients than the old queue (16) held.
   Reported: refusals ("Queue is full": the queue's bound, counted apart), other failures (both
   must be 0), p50/p90/p95/max latency per endpoint and overall, the served rate, server memory
   (RSS from /proc: start, peak = VmHWM, end).
3. **Soak**: S more requests by the same clients; server RSS and the number of temporary files
   (the app's request folders, Gradio's cache) at the start, after the first ``SOAK_WARM`` requests
   (``warm``), in the middle and at the end, then once more after ``CACHE_GRACE_S`` and one more
   request (``settled``). The files must stay under the app's bounds (``MAX_OUTPUT_DIRS``,
   ``MAX_CACHED_FILES``: see ``framepred.serving.files``, run before each prediction), however many
   requests; the RSS at the end within ``RSS_GROWTH`` of the RSS once warm.

Prints a markdown table, writes every number as JSON (``--json``). Exit status 1 when a request was
refused or failed, or a bound was exceeded. Latencies include queueing behind the app's concurrency
limit (2 predictions at once) and are inflated by anything else using the CPU (the clients
themselves, a training run): the served rate measured here is a lower bound of the app's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
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
from PIL import Image, ImageDraw

from framepred import uploads
from framepred.serving.launch import AppProcess
from framepred.timing import latency_summary

REPO = Path(__file__).resolve().parent.parent

ENDPOINTS = ("/predict_test", "/predict_generated", "/predict_upload", "/predict_drawn", "/compare_test")
SOAK_WARM = 200  # soak requests after which the server's memory should stay flat (RSS_GROWTH)
RSS_GROWTH = 0.10  # the soak's RSS at its end may exceed the RSS once warm by at most this fraction
STARTUP_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 300
# The app's limits, each read from where it is defined (app.py, framepred.serving.files or
# framepred.serving.validate), in a subprocess with the server's environment: see app_limits().
APP_LIMITS = ("MAX_HORIZON", "CONCURRENCY_LIMIT", "QUEUE_MAX_SIZE", "MAX_OUTPUT_DIRS", "MAX_CACHED_FILES",
              "CACHE_GRACE_S", "DELETE_CACHE", "OUTPUT_TTL_S", "MAX_FILE_SIZE", "CLEAN_DELAY_S")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=48, help="clients released at once (default 48, issue #31)")
    p.add_argument("--requests", type=int, default=8, help="requests per client in the burst (default 8)")
    p.add_argument("--soak", type=int, default=2000, help="requests in the soak phase, all clients (default 2000)")
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
        results["burst"] = run_burst(clients, args.requests, server)
        results["soak"] = run_soak(clients, args.soak, server)
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
REFUSED = "Queue is full"  # how gradio_client reports the queue's refusal (HTTP 503 or a queue_full message)


class Client:
    """One user: a gradio_client with its own download folder and random stream."""

    def __init__(self, url: str, folder: Path, seed: int):
        from gradio_client import Client as GradioClient

        folder.mkdir(parents=True)
        self.folder = folder
        self.rng = np.random.default_rng(seed)
        self.client = GradioClient(url, verbose=False, download_files=str(folder / "downloads"),
                                   httpx_kwargs={"timeout": REQUEST_TIMEOUT_S})  # httpx defaults to 5 s
        self.n = 0

    def arguments(self, kind: str, horizon: int) -> tuple:
        """A request's arguments: random values, a fresh file for the upload and the drawing."""
        from gradio_client import handle_file

        rng = self.rng
        if kind == "/predict_test":
            return int(rng.integers(0, 1000)), horizon
        if kind == "/predict_generated":
            return (int(rng.integers(0, 2**32)), int(rng.integers(1, 4)), float(rng.choice([0.5, 1.0, 1.5, 2.0])),
                    horizon)
        if kind == "/predict_upload":
            return handle_file(str(self.new_upload())), horizon
        if kind == "/predict_drawn":
            return handle_file(str(self.new_drawing())), float(rng.integers(0, 360)), 1.0, horizon
        if kind == "/compare_test":
            return int(rng.integers(0, 1000)), horizon, None, None  # the default model and the first other
        raise ValueError(f"unknown endpoint {kind}")

    def request(self, kind: str, max_horizon: int) -> tuple[float, str | None]:
        """One request of ``kind``; (seconds, None) or (seconds, what went wrong)."""
        self.n += 1
        horizon = int(self.rng.integers(1, max_horizon + 1))
        args = self.arguments(kind, horizon)
        t0 = time.perf_counter()
        try:
            answer = self.client.predict(*args, api_name=kind)
            error = check_answer(kind, answer, horizon)
            for f in answer[:-1]:  # the client's copies of the files: not the server's
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

    def new_drawing(self) -> Path:
        """A fresh drawn "digit" as the Draw tab's canvas sends it: a random stroke, black on white, 280 px."""
        img = Image.new("L", (280, 280), 255)
        draw = ImageDraw.Draw(img)
        x, y = self.rng.integers(60, 220, size=2)
        rx, ry = self.rng.integers(25, 60, size=2)
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), outline=0, width=14)  # a "0" ...
        draw.line((x + rx, y, x + rx, min(y + 2 * ry, 270)), fill=0, width=14)  # ... with a tail: a "9"
        path = self.folder / f"drawing{self.n}.png"
        img.save(path)
        return path


def check_answer(kind: str, answer: tuple, horizon: int) -> str | None:
    """What is wrong with an endpoint's answer, or None: the prediction's shape and the report's horizon
    (a comparison: a GIF and a report of two models)."""
    report = answer[-1]
    if report.get("horizon") != horizon:
        return f"wrong result: report horizon {report.get('horizon')}, asked {horizon}"
    if kind == "/compare_test":
        return None if len(report.get("models", ())) == 2 else f"wrong result: {len(report.get('models', ()))} models"
    shape = np.load(answer[1]).shape
    return None if shape == (horizon, 64, 64) else f"wrong result: prediction shape {shape}"


Record = tuple[str, float, str | None]  # (endpoint, seconds, error)


def run_burst(clients: list[Client], per_client: int, server: Server) -> dict:
    """Every client released at the same instant, each sending ``per_client`` requests one after the
    other (endpoints in rotation, shifted per client so that the first wave is already mixed)."""
    max_horizon = int(server.limits["MAX_HORIZON"])
    lock, start = threading.Lock(), threading.Barrier(len(clients))
    records: list[Record] = []

    def worker(i: int, client: Client) -> None:
        start.wait()
        for j in range(per_client):
            kind = ENDPOINTS[(i + j) % len(ENDPOINTS)]
            seconds, error = client.request(kind, max_horizon)
            with lock:
                records.append((kind, seconds, error))

    wall = run_threads([(worker, (i, c)) for i, c in enumerate(clients)])
    result = summarize(records, wall)
    result["server_rss_mb_after"] = server.rss_mb()
    return result


def run_soak(clients: list[Client], n_requests: int, server: Server) -> dict:
    """``n_requests`` spread over the clients (running at once), endpoints in rotation; memory and
    temporary files watched (see the module's docstring)."""
    max_horizon = int(server.limits["MAX_HORIZON"])
    lock = threading.Lock()
    records: list[Record] = []
    snapshots: dict = {}
    next_index = iter(range(n_requests))
    marks = [(min(SOAK_WARM, n_requests // 2), "warm"), (n_requests // 2, "middle")]  # (requests done, label)

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
                for done, label in marks:
                    if len(records) == done:
                        snapshot(label)

    snapshot("start")
    wall = run_threads([(worker, (c,)) for c in clients])
    result = summarize(records, wall)
    snapshot("end")
    time.sleep(float(server.limits["CACHE_GRACE_S"]) + 1)  # leftovers older than the grace period ...
    seconds, error = clients[0].request("/predict_test", max_horizon)  # ... go with the next request
    snapshot("settled")
    result["settle_request_error"] = error
    result["snapshots"] = snapshots
    result["bounds"] = file_bounds(server.limits, len(clients), result["throughput_rps"])
    result["within_bounds"] = all(within(s["files"], result["bounds"]) for s in snapshots.values())
    warm, end = snapshots.get("warm", snapshots["start"])["rss_mb"], snapshots["end"]["rss_mb"]
    result["rss_growth"] = round(end / warm - 1, 4) if warm and end else None
    result["rss_flat"] = result["rss_growth"] is not None and result["rss_growth"] <= RSS_GROWTH
    return result


def run_threads(jobs: list) -> float:
    """Run each (function, arguments) in a thread of its own, all at once; the seconds until all are done."""
    threads = [threading.Thread(target=fn, args=args, daemon=True) for fn, args in jobs]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def file_bounds(limits: dict, n_clients: int, rate_rps: float | None) -> dict:
    """What the app's pruning guarantees, independent of the number of requests served.

    A cleaner thread prunes CLEAN_DELAY_S after a request asks (framepred.serving.files), so on top
    of the caps come the files of requests that are running or finishing (at most CONCURRENCY_LIMIT,
    plus those of a pass that is running), of the requests made within one CLEAN_DELAY_S (twice the
    phase's served rate ``rate_rps`` times it, and one more) and the uploads of clients waiting in
    the queue. Per request: one output folder (2 files); in Gradio's cache an upload, the GIF and
    the .npy.
    """
    in_flight = 2 * int(limits["CONCURRENCY_LIMIT"])
    lag = math.ceil(2 * (rate_rps or 0) * float(limits["CLEAN_DELAY_S"])) + 1
    return {"output_dirs": int(limits["MAX_OUTPUT_DIRS"]) + in_flight + lag,
            "cache_files": int(limits["MAX_CACHED_FILES"]) + 3 * (in_flight + lag + n_clients)}


def within(files: dict, bounds: dict) -> bool:
    return all(files[k] <= v for k, v in bounds.items())


def summarize(records: list[Record], wall: float) -> dict:
    def stats(seconds: list[float]) -> dict:
        return latency_summary(s * 1000 for s in seconds)

    refused = [f"{kind}: {error}" for kind, _, error in records if error and REFUSED in error]
    failures = [f"{kind}: {error}" for kind, _, error in records if error and REFUSED not in error]
    ok = [s for _, s, e in records if not e]
    return {
        "requests": len(records), "refusals": len(refused), "failures": len(failures),
        "failure_examples": (failures + refused)[:10], "wall_s": round(wall, 2),
        "throughput_rps": round(len(ok) / wall, 2) if wall else None,  # served answers per second
        "served_request_s": round(wall / len(ok), 4) if ok else None,  # its inverse: what the queue size is made of
        "latency": stats(ok),
        "per_endpoint": {k: stats([s for kind, s, e in records if kind == k and not e]) for k in ENDPOINTS},
    }


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def verdict(r: dict) -> bool:
    phases = [r.get("burst"), r.get("soak")]
    return (all(p is not None and p["failures"] == 0 and p["refusals"] == 0 for p in phases)
            and r["soak"].get("within_bounds", False) and r["soak"].get("rss_flat", False)
            and r.get("upload_limit", {}).get("enforced", False) and not r["soak"].get("settle_request_error"))


def machine() -> dict:
    from run import cpu_model  # benchmarks/run.py, beside this script

    cpu = cpu_model()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    kernels = {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ}
    return {"cpu": cpu, "cores": cores, "load_avg_1min_at_start": load, "python": platform.python_version(),
            "kernels": kernels or "native"}


def table(r: dict) -> str:
    burst, soak, lim = r["burst"], r["soak"], r["limits"]
    c, m = r["config"], r["machine"]
    rows = [
        ("machine", f"{m['cpu']}, {m['cores']} cores, kernels {m['kernels']}, load avg "
                    f"{m['load_avg_1min_at_start']:.2f} at start"),
        ("limits", f"queue {lim['QUEUE_MAX_SIZE']}, {lim['CONCURRENCY_LIMIT']} predictions at once, horizon <= "
                   f"{lim['MAX_HORIZON']}, upload <= {lim['MAX_FILE_SIZE'] // 2**20} MiB"),
        ("upload limit (python app.py)", f"{r['upload_limit']['sent_bytes']:,} bytes -> HTTP "
                                         f"{r['upload_limit']['status']} in {r['upload_limit']['seconds']} s"),
    ]
    for name, ph in (("burst", burst), ("soak", soak)):
        lat = ph["latency"]
        size = f"{c['clients']} clients x {c['requests']}, at once" if name == "burst" else f"{c['clients']} clients"
        rows += [
            (f"{name}: requests / refused (queue full) / failed",
             f"{ph['requests']} ({size}) / **{ph['refusals']}** / **{ph['failures']}**"),
            (f"{name}: latency p50 / p90 / p95 / max", f"{lat.get('median_ms')} / {lat.get('p90_ms')} / "
                                                        f"{lat.get('p95_ms')} / {lat.get('max_ms')} ms"),
            (f"{name}: served", f"{ph['throughput_rps']} requests/s ({ph['wall_s']} s; "
                                f"{ph['served_request_s']} s a request)"),
        ]
        if name == "burst":
            for k, s in ph["per_endpoint"].items():
                rows.append((f"burst: {k} p50 / p90 / p95", f"{s.get('median_ms')} / {s.get('p90_ms')} / "
                                                             f"{s.get('p95_ms')} ms (n = {s['n']})"))
    rss = r["server_rss_mb"]
    rows.append(("server RSS start / peak / end", f"{rss.get('start')} / {rss.get('peak')} / {rss.get('end')} MiB"))
    for label, snap in soak["snapshots"].items():
        f = snap["files"]
        rows.append((f"soak {label} ({snap['requests_done']} done)",
                     f"RSS {snap['rss_mb']} MiB; request folders {f['output_dirs']}; Gradio cache "
                     f"{f['cache_files']} files ({f['cache_mb']} MiB) + {f['cache_empty_tmp']} empty tmp"))
    growth = soak["rss_growth"]
    rows.append(("soak RSS, end against warm", f"{'?' if growth is None else f'{growth:+.1%}'} (at most "
                                               f"+{RSS_GROWTH:.0%}): {'kept' if soak['rss_flat'] else '**exceeded**'}"))
    b = soak["bounds"]
    rows.append(("temp-file bounds", f"request folders <= {b['output_dirs']}, cache files <= {b['cache_files']}: "
                                     f"{'kept' if soak['within_bounds'] else '**exceeded**'}"))
    rows.append(("verdict", "**ok**" if r["ok"] else "**FAILED**"))
    lines = ["| measurement | result |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    for ph in (burst, soak):
        lines += [f"failure: {f}" for f in ph["failure_examples"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
