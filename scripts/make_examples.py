"""Write the demo's upload examples (held-out digits, fixed seeds) into examples/.

    python scripts/make_examples.py

* examples/two_digits.gif: 20 frames, 2 digits, upscaled to 128 x 128 (the app resizes it back);
* examples/three_digits.npy: uint8 (20, 64, 64), 3 digits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from framepred import data

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    out = REPO / "examples"
    out.mkdir(exist_ok=True)
    digits = data.load_digits("test")
    two = data.generate(digits, np.random.default_rng(11), 1, 20, 2, dtype=np.uint8)[0]  # (20, 64, 64)
    frames = [Image.fromarray(f).resize((128, 128), Image.Resampling.NEAREST) for f in two]
    frames[0].save(out / "two_digits.gif", save_all=True, append_images=frames[1:], duration=120, loop=0)
    three = data.generate(digits, np.random.default_rng(12), 1, 20, 3, dtype=np.uint8)[0]
    np.save(out / "three_digits.npy", three)
    print("wrote", out / "two_digits.gif", out / "three_digits.npy")


if __name__ == "__main__":
    main()
