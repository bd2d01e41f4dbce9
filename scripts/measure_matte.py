"""Matte quality on ../shared/testdata/people-masks: raw MediaPipe mask vs refined matte.

Prints mean IoU and boundary F (2 px) for the raw confidence mask (bilinear to photo size,
threshold 0.5), for livebokeh's photo matte (zoom pass + colour guide) and for its video
matte (one pass + luma guide), over all images and over even/odd halves (tune on even).
    python scripts/measure_matte.py [--shared ../shared] [--limit N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from livebokeh.eval.metrics import boundary_f, iou
from livebokeh.matte.refine import MatteRefiner
from livebokeh.perception.segmentation import PersonSegmenter


def evaluate(people: Path, indices) -> dict:
    """Raw one-pass mask vs livebokeh's photo matte (zoom pass + colour guided filter)."""
    refiner, video_refiner = MatteRefiner(guide="color"), MatteRefiner(guide="luma")
    rows = []
    with PersonSegmenter(video=False) as segmenter:
        for i in indices:
            bgr = cv2.imread(str(people / "images" / f"{i}.jpg"))
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            truth = cv2.imread(str(people / "masks" / f"{i}.png"), cv2.IMREAD_GRAYSCALE)
            h, w = rgb.shape[:2]
            truth = cv2.resize(truth, (w, h), interpolation=cv2.INTER_LINEAR) > 127
            mask = segmenter.segment(rgb)
            raw = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
            refined = refiner.refine(rgb, segmenter.segment_zoomed(rgb)) > 0.5
            video = video_refiner.refine(rgb, mask) > 0.5
            rows.append((i, iou(raw, truth), boundary_f(raw, truth),
                         iou(refined, truth), boundary_f(refined, truth),
                         iou(video, truth), boundary_f(video, truth)))
    arr = np.array([r[1:] for r in rows], np.float32)
    means = arr.mean(axis=0)
    return {"n": len(rows), "raw_iou": float(means[0]), "raw_bf": float(means[1]),
            "refined_iou": float(means[2]), "refined_bf": float(means[3]),
            "video_iou": float(means[4]), "video_bf": float(means[5])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    people = args.shared / "testdata" / "people-masks"
    ids = list(range(1, args.limit + 1))
    report = {"all": evaluate(people, ids),
              "even": evaluate(people, [i for i in ids if i % 2 == 0]),
              "odd": evaluate(people, [i for i in ids if i % 2 == 1])}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
