"""Hands and held objects in front of the body: are they kept sharp?

For chosen real frames, a box around a hand or a held object (a book, a bag, a racket,
swing chains) is scored on the truth mask's person pixels inside it (DAVIS and people-masks
truth includes what the person holds):

* ``matte``: share kept sharp by the photo matte (matte >= 0.5): what decides for the
  gaussian, motion and radial styles; ``video``: the same with the video matte (the frame
  as the first of a stream);
* ``depth``: share the lens style's depth alone keeps sharp (|CoC| <= 1 px at strength 30);
* ``lens``: share the lens style keeps sharp (the matte or the depth).

    python scripts/measure_held_objects.py [--testdata DIR] [--sheet docs/held-objects.png]
                                           [--json docs/held-objects.json]

The sheet shows the DAVIS frames only (CC BY 4.0); people-masks photos are scored, not shown.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from livebokeh.eval.report import contact_sheet, save_small_png
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings

# (set, image, truth, box x0 y0 x1 y1 as fractions, what is held)
CASES = (
    ("davis", "davis-people/lucia/images/00030.jpg", "davis-people/lucia/masks/00030.png",
     (0.30, 0.33, 0.38, 0.56), "handbag"),
    ("davis", "davis-people/swing/images/00030.jpg", "davis-people/swing/masks/00030.png",
     (0.58, 0.35, 0.70, 0.62), "hands on the chains"),
    ("davis", "davis-people/hike/images/00040.jpg", "davis-people/hike/masks/00040.png",
     (0.50, 0.32, 0.62, 0.60), "backpack and arm"),
    ("davis", "davis-people/dance-jump/images/00030.jpg",
     "davis-people/dance-jump/masks/00030.png", (0.40, 0.22, 0.55, 0.45), "arms"),
    ("people", "people-masks/images/86.jpg", "people-masks/masks/86.png",
     (0.30, 0.78, 0.58, 0.95), "notebook"),
    ("people", "people-masks/images/52.jpg", "people-masks/masks/52.png",
     (0.28, 0.58, 0.47, 0.76), "book"),
    ("people", "people-masks/images/45.jpg", "people-masks/masks/45.png",
     (0.30, 0.52, 0.52, 0.98), "thumb up"),
    ("people", "people-masks/images/59.jpg", "people-masks/masks/59.png",
     (0.50, 0.50, 0.68, 0.85), "clasped hands"),
    ("people", "people-masks/images/96.jpg", "people-masks/masks/96.png",
     (0.42, 0.62, 0.60, 0.98), "clasped hands"),
    ("people", "people-masks/images/53.jpg", "people-masks/masks/53.png",
     (0.08, 0.62, 0.24, 0.82), "hand (mudra)"),
)
SHARP_COC = 1.0  # px: a CoC radius at most this looks sharp


def _read(testdata: Path, image: str, truth: str) -> tuple[np.ndarray, np.ndarray]:
    rgb = cv2.cvtColor(cv2.imread(str(testdata / image)), cv2.COLOR_BGR2RGB)
    mask = cv2.imread(str(testdata / truth), cv2.IMREAD_GRAYSCALE)
    mask = cv2.resize(mask, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR) > 127
    return rgb, mask


def score(rgb: np.ndarray, truth: np.ndarray, box, depth_model: str | None):
    """(matte share, depth share, lens share) on the truth's pixels in ``box``, and the
    matte and CoC maps."""
    h, w = truth.shape
    x0, y0, x1, y1 = (round(v * s) for v, s in zip(box, (w, h, w, h), strict=True))
    inside = np.zeros_like(truth)
    inside[y0:y1, x0:x1] = True
    held = truth & inside
    settings = BokehSettings(style="lens", strength=30, grain="off", depth_model=depth_model)
    with BokehProcessor(settings, video=False) as processor:
        result = processor.process(rgb)
        matte, coc = result.matte.copy(), result.coc.copy()
    with BokehProcessor(BokehSettings(grain="off"), video=True) as processor:
        video = processor.compute_matte(rgb, 0)
    by_matte = matte[held] >= 0.5
    by_depth = np.abs(coc[held]) <= SHARP_COC
    return (float(by_matte.mean()), float((video[held] >= 0.5).mean()), float(by_depth.mean()),
            float((by_matte | by_depth).mean())), matte, coc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("LIVEBOKEH_TESTDATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "testdata"))
    parser.add_argument("--testdata", type=Path, default=default)
    parser.add_argument("--depth-model", default=None)
    parser.add_argument("--sheet", type=Path, help="write the DAVIS frames' sheet here")
    parser.add_argument("--json", type=Path, help="write the rows here (for scripts/evaluate.py)")
    args = parser.parse_args()
    rows, tiles = [], []
    for kind, image, truth_path, box, what in CASES:
        rgb, truth = _read(args.testdata, image, truth_path)
        shares, matte, coc = score(rgb, truth, box, args.depth_model)
        rows.append({"image": image, "held": what, **dict(zip(
            ("matte", "video", "depth", "lens"), shares, strict=True))})
        if kind == "davis":
            tiles += _tiles(rgb, box, matte, coc, what)
    print(json.dumps(rows, indent=2))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    held = {key: np.mean([row[key] >= 0.9 for row in rows]) for key in ("matte", "video", "lens")}
    print(f"cases with >= 90 % of the held object kept sharp, of {len(rows)}: photo matte "
          f"{held['matte']:.0%}, video matte {held['video']:.0%}, lens {held['lens']:.0%}")
    if args.sheet:
        save_small_png(args.sheet, contact_sheet(tiles, tile_height=180, columns=3))


def _tiles(rgb, box, matte, coc, what):
    """Frame with the box, the matte, |CoC| (white = sharp), cropped around the box."""
    h, w = matte.shape
    x0, y0, x1, y1 = (round(v * s) for v, s in zip(box, (w, h, w, h), strict=True))
    pad = max(x1 - x0, y1 - y0)
    crop = slice(max(0, y0 - pad), min(h, y1 + pad)), slice(max(0, x0 - pad), min(w, x1 + pad))
    framed = rgb.copy()
    cv2.rectangle(framed, (x0, y0), (x1, y1), (255, 220, 0), 2)
    sharp = np.clip(1.0 - np.abs(coc) / 8.0, 0, 1)
    grey = [(np.dstack([m] * 3) * 255).astype(np.uint8) for m in (matte, sharp)]
    return [(what, framed[crop]), ("matte", grey[0][crop]),
            ("lens: sharp by depth", grey[1][crop])]


if __name__ == "__main__":
    main()
