"""Start the demo on a free port of 127.0.0.1 and wait until it answers: the one way the tests, the
benchmarks and the scripts serve it.

* :class:`AppProcess`: ``python app.py`` in a subprocess, as a Space starts it (its ``__main__``
  launch settings are what is served);
* :func:`serve_in_process`: an already imported app's Gradio ``demo``, in this process.

Standard library only: the app file and the ``demo`` object come from the caller, so this module
imports neither the app nor gradio.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

HOST = "127.0.0.1"  # loopback only: nothing started here is reachable from another machine
STARTUP_TIMEOUT_S = 300  # the app loads its default model before it serves (seconds on a busy CPU)
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Return once ``url``'s Gradio config answers HTTP 200 (the page and the API are up); raise
    RuntimeError when ``alive()`` turns false (the server exited) or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not alive():
            raise RuntimeError("the app exited before it served")
        try:
            with _DIRECT.open(f"{url}/config", timeout=5) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):  # not listening yet, or not ready
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not answer within {timeout_s:.0f} s")
        time.sleep(0.2)


class AppProcess:
    """``python app.py`` on a free port of 127.0.0.1 (``url``); a context manager that starts it,
    waits until it serves and stops it.

    ``env`` replaces this process's environment (default: a copy of it); the server's address and
    Gradio's analytics switch are set on top. ``log``: a file for the server's output (default:
    discarded); its end is quoted when the app fails to start.
    """

    def __init__(self, app_file: str | os.PathLike, *, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, log: str | os.PathLike | None = None,
                 startup_timeout_s: float = STARTUP_TIMEOUT_S, python: str | os.PathLike = sys.executable):
        self.app_file = Path(app_file)
        self.python = os.fspath(python)  # another venv's interpreter (a deployed folder's own)
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.env = {**(os.environ if env is None else env), "GRADIO_SERVER_NAME": HOST,
                    "GRADIO_SERVER_PORT": str(self.port), "GRADIO_ANALYTICS_ENABLED": "False"}
        self.cwd = Path(cwd) if cwd is not None else self.app_file.parent
        self.log = Path(log) if log is not None else None
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None  # from the process start to the first answer
        self._log_file = None

    def start(self) -> "AppProcess":
        t0 = time.perf_counter()
        out = subprocess.DEVNULL
        if self.log is not None:
            self._log_file = out = open(self.log, "wb")
        self.proc = subprocess.Popen([self.python, str(self.app_file)], cwd=self.cwd, env=self.env,
                                     stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.url, self.startup_timeout_s, alive=lambda: self.proc.poll() is None)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e} (exit status {self.proc.returncode}):\n{self.log_tail()}") from None
        self.startup_s = time.perf_counter() - t0
        return self

    def stop(self) -> int | None:
        """Terminate the server (kill it if it does not go within 20 s); its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.proc.returncode

    def log_tail(self, n: int = 4000) -> str:
        """The last ``n`` characters of the server's output ('' without a log file)."""
        try:
            return self.log.read_text(errors="replace")[-n:] if self.log is not None else ""
        except OSError:
            return ""

    def __enter__(self) -> "AppProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def serve_in_process(demo, **launch_kwargs) -> Iterator[str]:
    """Serve a Gradio Blocks ``demo`` (e.g. ``app.demo``, with ``**app.LAUNCH_KWARGS``) on a free port
    of 127.0.0.1 from this process; yields its URL (no trailing slash) and closes it after."""
    _, url, _ = demo.launch(server_name=HOST, server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **launch_kwargs)
    try:
        yield url.rstrip("/")
    finally:
        demo.close()
