"""Photo matte quality on people-masks: raw MediaPipe confidence vs livebokeh's photo matte.

Prints mean IoU and boundary F (2 px) of the raw general-model confidence (one pass on the
whole photo, bilinear to photo size, threshold 0.5) and of livebokeh's photo matte
(``BokehProcessor(video=False)``: whole-photo pass, a second pass on the box around the
people, colour guided filter), over all images and over the even and odd halves, so a
setting fitted on one half can be checked on the other.

    python scripts/measure_matte.py [--testdata DIR] [--limit N] [--people all|main]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from livebokeh.eval.matte_quality import photo_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("LIVEBOKEH_TESTDATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "testdata"))
    parser.add_argument("--testdata", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--people", choices=("all", "main"), default="all")
    args = parser.parse_args()
    people = args.testdata / "people-masks"
    ids = list(range(1, args.limit + 1))
    report = {"even": photo_scores(people, [i for i in ids if i % 2 == 0], args.people),
              "odd": photo_scores(people, [i for i in ids if i % 2 == 1], args.people)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
