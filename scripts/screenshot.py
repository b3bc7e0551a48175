"""Screenshot of the running demo for the README: docs/screenshot.png.

    python scripts/screenshot.py [--out docs/screenshot.png] [--chromium /usr/bin/chromium]

Serves app.py on a free port of 127.0.0.1 (with whatever model it finds: checkpoints/ or
FRAMEPRED_MODEL), opens it in headless Chromium (Playwright's Python API driving Debian's
chromium), predicts test sequence 3 with 10 frames, opens "Inspect the model" and saves the page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.add_argument("--index", type=int, default=3, help="test-set sequence to show")
    args = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                                quiet=True, **app.LAUNCH_KWARGS)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.locator("#predict-test").wait_for()
            slider = page.get_by_label("number input for Sequence index")
            if slider.count():
                slider.fill(str(args.index))
                slider.press("Enter")
            page.locator("#predict-test").click()
            page.locator("#result-gif img").wait_for(state="visible")
            page.get_by_text("Inspect the model").click()
            page.get_by_text("Hidden-state activity").first.wait_for()
            page.locator("img[alt]").last.wait_for(state="visible")
            page.wait_for_timeout(2800)  # let the GIF reach a predicted frame (10 x 160 ms + a hold)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    finally:
        app.demo.close()
    print("wrote", out)
    return out


if __name__ == "__main__":
    main()
