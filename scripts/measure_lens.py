"""Measure the lens blur: render time at 1080p / 720p and quality against the reference.

Usage: python scripts/measure_lens.py [--repeats 40] [--quality-size 320x240]

Timing: median wall time of ``lens.lens_blur`` on a synthetic RGB-D frame (near, in-focus
and far content, lights) with reused ``out`` / ``work`` buffers, for strength 20 and 100
(max CoC = ``render.blur_radius``). Also the same frame with no foreground (all CoC >= 0),
the usual webcam case. Quality: PSNR of ``lens_blur`` against ``reference_lens_blur`` with
the same CoC map at strengths 20, 50, 100 for a disc and a 6-blade aperture.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from livebokeh.eval.metrics import psnr
from livebokeh.eval.reference import reference_lens_blur
from livebokeh.eval.synthetic import SUBJECT_DEPTH, make_scene
from livebokeh.render.halo_free import blur_radius
from livebokeh.render.lens import lens_blur

DEPTH_RANGE = 0.4  # inverse-depth distance from the focus plane at which the CoC is largest


def scene_coc(inv_depth: np.ndarray, strength: float) -> np.ndarray:
    """Signed CoC (px): thin lens on inverse depth, capped at ``blur_radius(strength)``."""
    r_max = blur_radius(strength, inv_depth.shape[1], inv_depth.shape[0])
    coc = (SUBJECT_DEPTH - inv_depth) * (r_max / DEPTH_RANGE)
    return np.clip(coc, -r_max, r_max).astype(np.float32)


def median_ms(rgb, coc, matte, repeats: int, **options) -> float:
    out, work = np.empty_like(rgb), {}
    for _ in range(3):
        lens_blur(rgb, coc, matte, out=out, work=work, **options)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        lens_blur(rgb, coc, matte, out=out, work=work, **options)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--quality-size", default="320x240")
    args = parser.parse_args()
    for width, height in ((1920, 1080), (1280, 720)):
        rgb, inv_depth, matte = make_scene(width, height, seed=0)
        for strength in (20, 100):
            coc = scene_coc(inv_depth, strength)
            r_max = blur_radius(strength, width, height)
            with_near = median_ms(rgb, coc, matte, args.repeats)
            far_only = median_ms(rgb, np.maximum(coc, 0.0), matte, args.repeats)
            hexagon = median_ms(rgb, coc, matte, args.repeats, blades=6)
            print(f"{width}x{height} strength {strength:3d} (max CoC {r_max:5.1f} px): "
                  f"{with_near:5.1f} ms disc, {hexagon:5.1f} ms hexagon, "
                  f"{far_only:5.1f} ms without foreground")
    width, height = (int(v) for v in args.quality_size.split("x"))
    rgb, inv_depth, matte = make_scene(width, height, seed=3)
    for blades in (0, 6):
        for strength in (20, 50, 100):
            coc = scene_coc(inv_depth, strength)
            reference = reference_lens_blur(rgb, coc, blades=blades)
            fast = lens_blur(rgb, coc, matte, blades=blades)
            print(f"{width}x{height} blades {blades} strength {strength:3d}: "
                  f"PSNR {psnr(fast, reference):5.2f} dB vs reference "
                  f"(unblurred frame: {psnr(rgb, reference):5.2f} dB)")


if __name__ == "__main__":
    main()
