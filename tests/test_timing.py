"""The one latency summary (framepred.timing) and the one way to start the app (serving.launch)."""

import subprocess
import sys

import pytest

from framepred.serving import launch
from framepred.timing import latency_summary


def test_latency_summary_percentiles():
    s = latency_summary(range(1, 101))  # 1..100 ms
    assert s == {"n": 100, "median_ms": 50.5, "p90_ms": 90.1, "p95_ms": 95.05, "mean_ms": 50.5, "min_ms": 1.0,
                 "max_ms": 100.0}
    assert latency_summary([7.0])["p95_ms"] == 7.0 and latency_summary([]) == {"n": 0}


def test_app_process_reports_a_server_that_dies_with_its_output(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import sys\nprint('no model here')\nsys.exit(3)\n")
    with pytest.raises(RuntimeError, match="(?s)exited before it served.*exit status 3.*no model here"):
        launch.AppProcess(app, log=tmp_path / "log.txt", startup_timeout_s=60).start()


def test_app_process_waits_for_an_answer_and_stops_the_server(tmp_path):
    """A stand-in app.py that answers /config only after a while: the harness waits for it, and
    terminates it on leaving."""
    app = tmp_path / "app.py"
    app.write_text(
        "import http.server, os, time\n"
        "time.sleep(1)\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if self.path == '/config' else 404); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "port = int(os.environ['GRADIO_SERVER_PORT'])\n"
        "http.server.HTTPServer((os.environ['GRADIO_SERVER_NAME'], port), H).serve_forever()\n")
    with launch.AppProcess(app, startup_timeout_s=60) as server:
        assert server.startup_s >= 1 and server.proc.poll() is None
        out = subprocess.run([sys.executable, "-c", f"import urllib.request; print(urllib.request.urlopen("
                              f"'{server.url}/config', timeout=10).status)"], capture_output=True, text=True)
        assert out.stdout.strip() == "200"
    assert server.proc.poll() is not None
