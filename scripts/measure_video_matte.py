"""Video matte quality on real footage with per-frame truth: raw MediaPipe vs livebokeh.

Clips: the DAVIS person clips in ``$LIVEBOKEH_TESTDATA/davis-people`` and a still-camera clip
composed from people-masks photos (a real person moving over a static real background,
with sensor noise; ``livebokeh.eval.video_matte.still_camera_clip``). Metrics: IoU and
boundary F (2 px) at 0.5, dtSSD (x100) and, on the still-camera clip, the share of static
pixels whose label flips between frames.

    python scripts/measure_video_matte.py [--testdata DIR] [--json out.json]

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
import time
from pathlib import Path

from livebokeh.eval.matte_quality import (
    Clip,
    clip_scores,
    load_davis,
    mean_scores,
    raw_video_mattes,
    still_camera_clip,
    video_mattes,
)

HALVES = {"A": ("lucia", "dance-jump", "swing"), "B": ("hike", "rollerblade")}


METHODS = {"raw": raw_video_mattes,
           "all": lambda clip: video_mattes(clip, people="all"),
           "main": lambda clip: video_mattes(clip, people="main")}


def measure(clips: list[Clip]) -> dict:
    """Scores per method and clip, DAVIS means (all clips and each half), timing."""
    report: dict = {}
    for method, run in METHODS.items():
        started = time.perf_counter()
        per_clip = {clip.name: clip_scores(clip, run(clip)) for clip in clips}
        davis = [name for name in per_clip if name != "still-camera"]
        entry = {"clips": per_clip, "seconds": time.perf_counter() - started}
        if davis:
            entry["davis"] = mean_scores([per_clip[name] for name in davis])
            for half, names in HALVES.items():
                rows = [per_clip[name] for name in names if name in per_clip]
                if rows:
                    entry[f"davis_{half}"] = mean_scores(rows)
        report[method] = entry
    return report


def table(report: dict) -> str:
    """A Markdown table: DAVIS means and halves, then the still-camera clip."""
    lines = ["| method | DAVIS IoU | boundary F | dtSSD | half A IoU / BF / dtSSD | "
             "half B IoU / BF / dtSSD | still-camera IoU | flips (%) | dtSSD |",
             "|---|---|---|---|---|---|---|---|---|"]
    for method, entry in report.items():
        d, a, b = entry.get("davis", {}), entry.get("davis_A", {}), entry.get("davis_B", {})
        s = entry["clips"].get("still-camera", {})

        def triple(scores):
            return " / ".join(f"{scores[k]:.3f}" if k != "dtssd" else f"{scores[k]:.2f}"
                              for k in ("iou", "boundary_f", "dtssd")) if scores else "-"

        lines.append(f"| {method} | {d.get('iou', 0):.3f} | {d.get('boundary_f', 0):.3f} | "
                     f"{d.get('dtssd', 0):.2f} | {triple(a)} | {triple(b)} | "
                     f"{s.get('iou', 0):.3f} | {100 * s.get('flips', 0):.3f} | "
                     f"{s.get('dtssd', 0):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("LIVEBOKEH_TESTDATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "testdata"))
    parser.add_argument("--testdata", type=Path, default=default)
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument("--clips", nargs="*", help="DAVIS clip names (default: all five)")
    args = parser.parse_args()
    clips = load_davis(args.testdata / "davis-people", *([args.clips] if args.clips else []))
    clips.append(still_camera_clip(args.testdata / "people-masks"))
    report = measure(clips)
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
