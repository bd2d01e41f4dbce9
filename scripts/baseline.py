"""Render photos the naive way (``livebokeh.eval.baseline``), to compare with ``livebokeh photo``.

    python scripts/baseline.py INPUT.jpg OUTPUT.png [--strength 30] [--matte MATTE.png]

For comparison only: MediaPipe mask at frame size, threshold 0.5, 5 px feather, GaussianBlur
of the whole frame with the kernel matching livebokeh's sigma at that strength, blendLinear.
``--matte`` also writes the feathered mask (grey PNG, 255 = person).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from livebokeh.eval.baseline import baseline_frame, kernel_size, open_segmenter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--strength", type=float, default=30.0, help="0..100, as livebokeh's")
    parser.add_argument("--matte", type=Path, help="also write the mask here")
    args = parser.parse_args()
    bgr = cv2.imread(str(args.input), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"baseline: cannot read {args.input}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    segmenter = open_segmenter(False, rgb.shape[1], rgb.shape[0])
    try:
        result = baseline_frame(rgb, segmenter, args.strength)
    finally:
        segmenter.close()
    cv2.imwrite(str(args.output), cv2.cvtColor(result.image, cv2.COLOR_RGB2BGR))
    if args.matte:
        cv2.imwrite(str(args.matte), np.rint(result.matte * 255).astype(np.uint8))
    k = kernel_size(args.strength, rgb.shape[1], rgb.shape[0])
    print(f"{args.output}: kernel {k}x{k}, " + ", ".join(
        f"{stage} {ms:.1f} ms" for stage, ms in result.timings_ms.items()))


if __name__ == "__main__":
    main()
