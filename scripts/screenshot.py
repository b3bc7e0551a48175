"""Screenshot of the running demo for the README: docs/screenshot.png.

    python scripts/screenshot.py [--out docs/screenshot.png] [--chromium /usr/bin/chromium]

Serves app.py on a free port of 127.0.0.1 (with whatever model it finds: checkpoints/ or
FRAMEPRED_MODEL), opens it in headless Chromium (Playwright's Python API driving Debian's
chromium), waits for the prediction the page shows on load (test sequence 3, 10 frames: its GIF
and the frame viewer's picture; another ``--index`` is predicted with a click), opens "Inspect
the model", waits for the hidden-state pictures and saves the page.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from _app import import_app  # scripts/ is on sys.path when a script here runs

from framepred.serving.launch import serve_in_process

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# True once the <img> inside the element ``sel`` has a picture, fully loaded (not just the element).
IMAGE_LOADED = ("sel => { const i = document.querySelector(sel); "
                "return !!i && !!i.src && i.complete && i.naturalWidth > 0; }")
IMAGE_CHANGED = "([sel, old]) => { const i = document.querySelector(sel); return !!i && !!i.src && i.src !== old; }"


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.add_argument("--index", type=int, default=3, help="test-set sequence to show")
    args = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    app = import_app()

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with serve_in_process(app.demo, **app.LAUNCH_KWARGS) as url:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(url)
            # The page predicts test sequence app.FIRST_VIEW_INDEX on load, no click needed: wait for
            # that GIF and for the frame viewer's picture (the first predicted frame).
            page.wait_for_function(IMAGE_LOADED, arg="#result-gif img", timeout=120_000)
            page.wait_for_function(IMAGE_LOADED, arg="#frame-image img")
            if args.index != app.FIRST_VIEW_INDEX:
                old = page.locator("#result-gif img").get_attribute("src")
                slider = page.get_by_label("number input for Sequence index")
                slider.fill(str(args.index))
                slider.press("Enter")
                page.locator("#predict-test").click()
                page.wait_for_function(IMAGE_CHANGED, arg=["#result-gif img", old], timeout=120_000)
                page.wait_for_function(IMAGE_LOADED, arg="#result-gif img")
                page.wait_for_function(IMAGE_LOADED, arg="#frame-image img")
            page.get_by_text("Inspect the model").click()
            page.get_by_text("Hidden-state activity").first.wait_for()
            for sel in ("#hidden-space img", "#hidden-channels img"):  # drawn when the inspector opens
                page.wait_for_function(IMAGE_LOADED, arg=sel)
            page.wait_for_timeout(2800)  # let the GIF reach a predicted frame (10 x 160 ms + a hold)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    print("wrote", out)
    return out


if __name__ == "__main__":
    main()
