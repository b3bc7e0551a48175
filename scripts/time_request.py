"""Time one full demo request on this machine: median (and 90th percentile) over N calls.

    python scripts/time_request.py [--n 20] [--horizon 10] [--client]

A "request" is the Generate tab's handler: generate a sequence, predict (with hidden states), write
the GIF and the .npy, compute the metrics and the baseline, build the metric figure, the table, the
hidden-state pictures and the model card, plus the PNG encoding Gradio does for the figure.
With --client, also the /predict_generated API end to end through a local server (gradio_client).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _stats(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"median {statistics.median(ms):.0f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.0f} ms, min {ms[0]:.0f} ms"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--client", action="store_true", help="also time the API through a local server")
    args = p.parse_args(argv)

    import gradio as gr

    import app

    key = app.default_model_key()
    plots = gr.LinePlot(x="frame", y="value", color="series")
    app.ui_predict_generated(0, 2, 1.0, args.horizon, key)  # warm-up: model load, imports, caches
    times = []
    for seed in range(1, args.n + 1):
        t0 = time.perf_counter()
        out = app.ui_predict_generated(seed, 2, 1.0, args.horizon, key)
        plots.postprocess(out[1]), plots.postprocess(out[2])  # tables -> JSON, as Gradio sends them
        times.append(time.perf_counter() - t0)
    result = {"model": key, "torch_threads": app.TORCH_THREADS, "ui_request": _stats(times)}
    print(f"model {key!r}, horizon {args.horizon}, torch threads {app.TORCH_THREADS}, {args.n} calls")
    print("  full UI request (Generate tab):", result["ui_request"])

    times = []
    for seed in range(1, args.n + 1):
        t0 = time.perf_counter()
        app.predict_generated(seed, 2, 1.0, args.horizon)
        times.append(time.perf_counter() - t0)
    result["api_handler"] = _stats(times)
    print("  API handler /predict_generated: ", result["api_handler"])

    if args.client:
        from gradio_client import Client

        _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True,
                                    quiet=True, **app.LAUNCH_KWARGS)
        try:
            client = Client(url, verbose=False)
            client.predict(0, 2, 1.0, args.horizon, api_name="/predict_generated")
            times = []
            for seed in range(1, args.n + 1):
                t0 = time.perf_counter()
                client.predict(seed, 2, 1.0, args.horizon, api_name="/predict_generated")
                times.append(time.perf_counter() - t0)
            result["api_client"] = _stats(times)
            print("  API via gradio_client (HTTP):   ", result["api_client"])
        finally:
            app.demo.close()
    return result


if __name__ == "__main__":
    main()
