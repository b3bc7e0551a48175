"""The app on a fresh machine with a Hub model: ``FRAMEPRED_MODEL=someone/framepred-test``.

``python app.py`` runs as a Space runs it, in a subprocess whose environment has an empty
``HF_HOME`` and ``HF_ENDPOINT`` pointing at a stand-in for the Hub's download endpoints on
127.0.0.1 (tests/hub_standin.py) serving the shipped ``checkpoints/default`` folder. The real
``huggingface_hub`` client downloads it; ``/predict_test`` must answer with that model.
"""

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hub_standin import serve_model_repo
from test_hub import hub_env

REPO = Path(__file__).resolve().parent.parent
REPO_ID = "someone/framepred-test"
STARTUP_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_serves_a_hub_model_on_a_fresh_machine(tmp_path, make_client):
    folder = REPO / "checkpoints" / "default"
    if not (folder / "model.safetensors").is_file():
        pytest.skip("no shipped checkpoints/default")
    requests: list[str] = []
    with serve_model_repo(folder, REPO_ID, log=requests) as endpoint:
        port = _free_port()
        env = hub_env(tmp_path, endpoint, FRAMEPRED_MODEL=REPO_ID, GRADIO_SERVER_PORT=str(port),
                      GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False",
                      FRAMEPRED_CHECKPOINTS_DIR=str(tmp_path / "no_checkpoints"))
        assert not (tmp_path / "hf_home").exists()  # nothing cached: the app must download
        log = open(tmp_path / "app.log", "w")
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + STARTUP_TIMEOUT_S
            while True:
                assert proc.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert time.time() < deadline, "the app did not start"
                    time.sleep(0.5)
            client = make_client(url)
            gif, npy, report = client.predict(3, 10, api_name="/predict_test")
            import httpx

            page = httpx.get(f"{url}/config", timeout=60).text  # the page's components and their values
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    assert report["model"] == REPO_ID and report["models"][0]["trained"] is True
    assert np.load(npy).shape == (10, 64, 64) and report["metrics"]["mse"]["mean"] < 120  # a trained model
    assert any("model.safetensors" in r for r in requests)  # downloaded through the stand-in
    assert any(p.name == "training.json" for p in (tmp_path / "hf_home").rglob("training.json"))
    assert f"{REPO_ID} (FRAMEPRED_MODEL)" in page  # the model menu names it ...
    assert "Trained for" in page and "Untrained" not in page  # ... and shows it as trained
