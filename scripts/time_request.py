"""Time full demo requests on this machine: median (and 90th percentile) over N calls.

    python scripts/time_request.py [--n 20] [--horizon 10] [--client]

Everything here calls app.py's own handlers (and so ``framepred.serving``); nothing is re-implemented:

* the Generate tab's UI handler ``app.ui_predict_generated`` (generate a sequence, predict with the
  hidden states, GIF and .npy, metrics and baseline, the line-plot tables, the metrics table, the
  hidden-state summary) and its second step ``app.show_details`` (the frame viewer's first picture,
  the line plots), plus the JSON encoding Gradio does for the two line plots;
* the same with "Compare with" set to a second model, when the app has one;
* the frame viewer (``app.show_frame``, the slider), one call per step;
* the API functions ``predict_generated``, ``predict_drawn`` (a drawn digit as a PNG file) and
  ``compare_test`` (when there is a second model), as the app serves them (``app.API``).

With --client, also /predict_generated (and /compare_test) end to end through a local server
(gradio_client).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _app import import_app  # scripts/ is on sys.path when a script here runs

from framepred.serving.launch import serve_in_process
from framepred.timing import latency_summary

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _stats(times: list[float]) -> str:
    s = latency_summary(t * 1000 for t in times)
    return f"median {s['median_ms']:.0f} ms, p90 {s['p90_ms']:.0f} ms, min {s['min_ms']:.0f} ms"


def _time(fn, n: int) -> list[float]:
    """Seconds of ``fn(i)`` for i = 1..n (after one warm-up call ``fn(0)``)."""
    fn(0)
    times = []
    for i in range(1, n + 1):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return times


def drawing_png(folder: Path) -> str:
    """A digit-like stroke on a 280 x 280 canvas (what the Draw tab's sketchpad gives), as a PNG."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).ellipse((90, 50, 190, 230), outline=255, width=18)  # a "0"
    path = folder / "drawing.png"
    Image.fromarray(np.asarray(img)).save(path)
    return str(path)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--client", action="store_true", help="also time the API through a local server")
    args = p.parse_args(argv)

    import gradio as gr

    app = import_app()
    h = args.horizon
    key = app.models.default_model_key()
    other = app.models.other_model_key(key)
    plots = gr.LinePlot(x="frame", y="value", color="series")
    last: dict = {}

    def ui(seed: int, compare=app.NO_COMPARE) -> None:
        details = app.ui_predict_generated(seed, 2, 1.0, h, key, compare)[app.details_state]
        shown = app.show_details(details, False)  # the page's second step, once the animation is shown
        plots.postprocess(shown[app.mse_plot]), plots.postprocess(shown[app.ssim_plot])  # tables -> JSON, as sent
        last["state"] = details

    print(f"model {key!r}, horizon {h}, torch threads {app.TORCH_THREADS}, {args.n} calls each")
    result = {"model": key, "torch_threads": app.TORCH_THREADS, "horizon": h}

    def report(name: str, label: str, times: list[float]) -> None:
        result[name] = _stats(times)
        print(f"  {label:<40}", result[name])

    report("ui_request", "full UI request (Generate tab):", _time(ui, args.n))
    steps = range(1, app.CONTEXT + h + 1)
    state = last["state"]
    viewer = _time(lambda _: [app.show_frame(state, t) for t in steps], args.n)
    report("frame_viewer_step", "frame viewer (app.show_frame), per step:", [t / len(steps) for t in viewer])
    if other is not None:
        report("ui_compare", f"UI request comparing with {other!r}:", _time(lambda s: ui(s, other), args.n))
    report("api_predict_generated", "API handler /predict_generated:",
           _time(lambda s: app.API["predict_generated"](s, 2, 1.0, h), args.n))
    with tempfile.TemporaryDirectory() as tmp:
        png = drawing_png(Path(tmp))
        report("api_predict_drawn", "API handler /predict_drawn:",
               _time(lambda s: app.API["predict_drawn"](app.api.as_file(png), 30 + s, 1.0, h), args.n))
    if other is not None:
        report("api_compare_test", "API handler /compare_test:",
               _time(lambda s: app.API["compare_test"](s, h, None, None), args.n))

    if args.client:
        from gradio_client import Client

        with serve_in_process(app.demo, **app.LAUNCH_KWARGS) as url:
            client = Client(url, verbose=False)
            report("api_client", "API via gradio_client (HTTP):",
                   _time(lambda s: client.predict(s, 2, 1.0, h, api_name="/predict_generated"), args.n))
            if other is not None:
                report("api_client_compare", "/compare_test via gradio_client (HTTP):",
                       _time(lambda s: client.predict(s, h, None, None, api_name="/compare_test"), args.n))
    return result


if __name__ == "__main__":
    main()
