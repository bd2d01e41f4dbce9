"""Video matte quality on real footage with per-frame truth: raw MediaPipe vs livebokeh.

Clips: the DAVIS person clips in ``$LIVEBOKEH_TESTDATA/davis-people`` and a still-camera clip
composed from people-masks photos (a real person moving over a static real background,
with sensor noise; ``livebokeh.eval.video_matte.still_camera_clip``). Metrics: IoU and
boundary F (2 px) at 0.5, dtSSD (x100) and, on the still-camera clip, the share of static
pixels whose label flips between frames.

    python scripts/measure_video_matte.py [--testdata DIR] [--json out.json]
                                          [--figure docs/matte-video.png]

Methods: ``raw`` is the landscape selfie model on the whole frame, its confidence upsampled
bilinearly; ``all`` and ``main`` are ``BokehProcessor(BokehSettings(people=...),
video=True)``'s matte. The DAVIS clips are reported one by one, as a mean, and as the means
of two halves (A: lucia, dance-jump, swing; B: hike, rollerblade) so that a setting fitted on
one half can be checked on the other.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from livebokeh.eval.matte_quality import (
    Clip,
    load_davis,
    measure_video,
    raw_video_mattes,
    still_camera_clip,
    video_mattes,
    video_table,
)
from livebokeh.eval.metrics import iou
from livebokeh.eval.report import contact_sheet, save_small_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("LIVEBOKEH_TESTDATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "testdata"))
    parser.add_argument("--testdata", type=Path, default=default)
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument("--clips", nargs="*", help="DAVIS clip names (default: all five)")
    parser.add_argument("--figure", type=Path,
                        help="also draw raw vs livebokeh (main) on 3 frames of --figure-clip")
    parser.add_argument("--figure-clip", default="rollerblade")
    args = parser.parse_args()
    clips = load_davis(args.testdata / "davis-people", *([args.clips] if args.clips else []))
    clips.append(still_camera_clip(args.testdata / "people-masks"))
    report = measure_video(clips)
    print(video_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.figure:
        clip = next(c for c in clips if c.name == args.figure_clip)
        save_small_png(args.figure, figure(clip))


def figure(clip: Clip, picks: tuple[float, ...] = (0.2, 0.5, 0.8)) -> np.ndarray:
    """Rows of frame, raw matte and livebokeh's matte (people=main), with each one's IoU."""
    raw, ours = raw_video_mattes(clip), video_mattes(clip, people="main")
    tiles = []
    for pick in picks:
        index = round(pick * (len(clip.frames) - 1))
        truth = clip.truths[index]
        tiles.append((f"{clip.name} frame {index}", clip.frames[index]))
        for name, matte in (("raw MediaPipe", raw[index]), ("livebokeh", ours[index])):
            score = iou(matte > 0.5, truth)
            grey = (np.dstack([matte] * 3) * 255).astype(np.uint8)
            tiles.append((f"{name}  IoU {score:.2f}", grey))
    return contact_sheet(tiles, tile_height=200, columns=3)


if __name__ == "__main__":
    main()
