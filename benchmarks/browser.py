"""Browser-side latency of the demo: from a click on *Predict* to the new animation shown.

Starts ``python app.py`` on 127.0.0.1 as a Space starts it (the shipped models unless
``--checkpoints``), opens it in headless
Debian Chromium through Playwright, waits for the first view (the prediction that plays on arrival),
then clicks *Predict* on the Test-set tab ``--clicks`` times, each time on another sequence, and
times click -> new GIF decoded in the page (``img.complete``, new ``src``): the clock starts as
Playwright sends the mouse click at the button's centre (``page.mouse.click``; the button is first
checked visible and enabled, off the clock: ``locator.click()`` would add its own waiting for two
animation frames of a still layout, ~30 ms, before the click, which no visitor's click has). The
first click is counted like the others. Each click comes as a visitor's next click would, on a page done with the
last one: its second step drawn (the frame viewer's new picture, the downloads) and ``--settle-ms``
more (default 500). Also times the frame viewer (slider -> new frame picture).

Where a click's time goes (``click_breakdown``, medians over the clicks), from the page's own
Resource Timing entries, from the click event itself: -> the queue-join POST sent (the page's
event handling), the join's round trip, the server's work until the event stream (SSE
``/queue/data``) ends (queue, prediction, post-processing, the outputs streamed), the page applying
the outputs until it requests the new animation, its fetch (the frame viewer's picture is inline,
and it and the rest of the result follow in the click's second step, once the animation is shown),
and decode + paint until the new animation is shown.

With ``--profile`` the app runs with ``GRADIO_PROFILING=1`` and the server's own phases of each
click's prediction event are kept too (``server_phases``, medians: queue wait, pre-processing, the
handler, post-processing, Gradio's total), from Gradio's ``/gradio_api/profiling/traces``.

    python benchmarks/browser.py                 # ~1 min; prints a table, --json to keep it
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import httpx

from framepred.serving.launch import AppProcess
from framepred.timing import latency_summary

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NEW_GIF = """before => { const i = document.querySelector('#result-gif img');
                        return i && i.src !== before && i.complete && i.naturalWidth > 0; }"""
NEW_FRAME = """before => { const i = document.querySelector('#frame-image img');
                          return i && i.src !== before && i.complete && i.naturalWidth > 0; }"""
# A prediction's second step is drawn: the frame viewer's new picture and the downloads with the MP4.
DETAILS_SHOWN = """before => { const i = document.querySelector('#frame-image img');
    return i && i.src !== before
           && [...document.querySelectorAll('#downloads a')].some(a => /\\.mp4/.test(a.href)); }"""


def _stats(ms: list[float]) -> dict:
    return {**latency_summary(ms), "first_ms": round(ms[0], 1)}


RESOURCES = """t0 => performance.getEntriesByType('resource').filter(e => e.startTime >= t0)
                  .map(e => ({name: e.name, start: e.startTime - t0, end: e.responseEnd - t0}))"""
# The page's own clock at the moment the click event fires (Playwright's click() first waits for the
# button to be visible and stable for two animation frames: that wait is the robot's, not the app's).
RECORD_CLICKS = "() => document.addEventListener('click', () => { window.__clickAt = performance.now(); }, true)"


def breakdown(entries: list[dict], shown_ms: float) -> dict:
    """One click's Resource Timing entries (ms since the click event) -> its phases: the queue-join
    POST sent and answered, the server's work until the event stream ends, the page applying the
    outputs until it asks for the new pictures, their fetches, and decode + paint until shown."""
    join = [e for e in entries if "/queue/join" in e["name"]]
    sse = [e for e in entries if "/queue/data" in e["name"]]
    files = [e for e in entries if "/file=" in e["name"] or "/file/" in e["name"]]
    if not join or not sse or not files:
        return {}
    sse_end = max(e["end"] for e in sse)
    files_start, files_end = min(e["start"] for e in files), max(e["end"] for e in files)
    return {"to_join_sent": join[0]["start"], "join_round_trip": join[0]["end"] - join[0]["start"],
            "server_until_stream_end": sse_end - join[0]["end"], "page_applies_outputs": files_start - sse_end,
            "file_fetches": files_end - files_start, "files": len(files), "decode_and_paint": shown_ms - files_end,
            "click_event_to_shown": shown_ms}


def server_phases(traces: list[dict], fn_name: str) -> dict:
    """Medians of Gradio's per-event phases (ms) over the traces of one event handler."""
    mine = [t for t in traces if t.get("fn_name") == fn_name]
    keys = ("queue_wait_ms", "preprocess_ms", "fn_call_ms", "postprocess_ms", "total_ms")
    return {k.removesuffix("_ms"): round(statistics.median(t[k] for t in mine), 1) for k in keys} if mine else {}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clicks", type=int, default=20)
    p.add_argument("--checkpoints", help="FRAMEPRED_CHECKPOINTS_DIR for the app (default: checkpoints/)")
    p.add_argument("--settle-ms", type=int, default=500,
                   help="after a click's result is fully drawn, wait this long before the next click (default 500)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--profile", action="store_true", help="also Gradio's server-side phases (GRADIO_PROFILING=1)")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, HF_HUB_OFFLINE="1", **({"GRADIO_PROFILING": "1"} if args.profile else {}))
    if args.checkpoints:
        env["FRAMEPRED_CHECKPOINTS_DIR"] = str(Path(args.checkpoints).resolve())
    server = AppProcess(REPO / "app.py", env=env, cwd=REPO).start()  # the default model loads first
    url, startup_s = server.url, server.startup_s
    clicks, frames, phases, gradio_phases = [], [], [], {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            t_open = time.perf_counter()
            page.goto(url)
            page.wait_for_function(NEW_GIF, arg="")
            first_view_s = time.perf_counter() - t_open
            page.wait_for_function(DETAILS_SHOWN, arg="")
            page.evaluate(RECORD_CLICKS)
            if args.profile:
                httpx.post(f"{url}/gradio_api/profiling/clear", timeout=30).raise_for_status()
            box = page.get_by_label("number input for Sequence index")
            for i in range(args.clicks):
                box.fill(str(10 + i))
                box.press("Enter")
                before = page.locator("#result-gif img").get_attribute("src")
                frame_before = page.locator("#frame-image img").get_attribute("src")
                page.wait_for_timeout(args.settle_ms)
                page.evaluate("performance.clearResourceTimings()")
                button = page.locator("#predict-test")
                button.wait_for(state="visible")
                assert button.is_enabled()
                where = button.bounding_box()
                t = time.perf_counter()
                page.mouse.click(where["x"] + where["width"] / 2, where["y"] + where["height"] / 2)
                page.wait_for_function(NEW_GIF, arg=before)
                clicks.append((time.perf_counter() - t) * 1000)
                t_click = page.evaluate("window.__clickAt")
                elapsed = page.evaluate("performance.now()") - t_click
                phases.append(breakdown(page.evaluate(RESOURCES, t_click), elapsed))
                page.wait_for_function(DETAILS_SHOWN, arg=frame_before)  # the rest of the result, drawn
            if args.profile:
                traces = httpx.get(f"{url}/gradio_api/profiling/traces", timeout=30).json()
                gradio_phases = server_phases(traces, "ui_predict_test")
            step = page.get_by_label("number input for Step through the frames (1-10: context)")
            for i in range(10):
                before = page.locator("#frame-image img").get_attribute("src")
                t = time.perf_counter()
                step.fill(str(1 + (i * 3) % 20))
                step.press("Enter")
                page.wait_for_function(NEW_FRAME, arg=before)
                frames.append((time.perf_counter() - t) * 1000)
            browser.close()
    finally:
        server.stop()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "checkpoints": env.get("FRAMEPRED_CHECKPOINTS_DIR", "checkpoints/"),
        "settle_ms": args.settle_ms,
        "click": "page.mouse.click at the button's centre (checked visible and enabled first)",
        "app_startup_s": round(startup_s, 2),
        "page_open_to_first_view_s": round(first_view_s, 2),
        "predict_click_to_new_gif": _stats(clicks),
        "frame_step_to_new_picture": _stats(frames),
        "click_breakdown": {k: round(statistics.median(p[k] for p in phases), 1) for k in phases[0]}
        if phases and all(phases) else {},
        **({"server_phases": gradio_phases} if args.profile else {}),
    }
    c, f = result["predict_click_to_new_gif"], result["frame_step_to_new_picture"]
    print(f"checkpoints {result['checkpoints']}; app start-up {startup_s:.1f} s; page open -> first view playing "
          f"{first_view_s:.2f} s")
    print(f"click Predict -> new GIF shown: median {c['median_ms']} ms, p90 {c['p90_ms']} ms, "
          f"first click {c['first_ms']} ms ({c['n']} clicks)")
    print(f"frame step -> new picture: median {f['median_ms']} ms, p90 {f['p90_ms']} ms ({f['n']} steps)")
    if result["click_breakdown"]:
        print("click breakdown (medians, ms): " + ", ".join(f"{k} {v}" for k, v in result["click_breakdown"].items()))
    if gradio_phases:
        print("server phases of a click's prediction (medians, ms): "
              + ", ".join(f"{k} {v}" for k, v in gradio_phases.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
