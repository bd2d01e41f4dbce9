"""The faster renderers give the same pictures as the renderers before the speed work.

For a fixed real frame and matte (real 1280x720 photos, the pipeline's own matte, the depth
model's CoC), today's CPU renderer (grain off) is compared with a frozen copy of the
renderer as it was on main at 8d82e9b (before issue #12), written out below from that
version: ≥ 40 dB PSNR over the whole frame for every style and strength. The frozen copy
uses only OpenCV and the functions the speed work did not touch (the push-pull fill, the
motion/radial blurs, the lens fields); whatever it re-implements is spelled out here.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from conftest import DEPTH_MODEL, load_person, need
from livebokeh.eval.metrics import psnr
from livebokeh.imgops import halve
from livebokeh.pipeline import BokehProcessor
from livebokeh.render import lens, styles
from livebokeh.render.cpu import CpuRenderer
from livebokeh.render.dof import DepthOfField
from livebokeh.render.halo_free import blur_radius, push_pull_fill
from livebokeh.render.renderer import background_job
from livebokeh.settings import BokehSettings

PHOTOS = (72, 74, 94)  # people-masks photos that are 1280x720: a real HD frame each
STRENGTHS = (3, 5, 10, 15, 30, 60, 100)
MIN_PSNR = 40.0


# --- the renderer on main at 8d82e9b, frozen ---------------------------------------------------

def frozen_gaussian(rgb: np.ndarray, matte: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution on the pyramid level where sigma <= 2 px, push-pull fill."""
    level = max(0, math.ceil(math.log2(max(sigma, 1e-6) / 2.0)))
    weight = np.clip(1.0 - halve(matte, level) / np.float32(0.3), 0.0, 1.0) ** 2
    small = halve(rgb, level)
    rgbw = cv2.multiply(cv2.cvtColor(small, cv2.COLOR_RGB2RGBA), cv2.merge((weight,) * 4),
                        dtype=cv2.CV_32F)
    blurred = cv2.GaussianBlur(rgbw, (0, 0), sigma / (1 << level))
    coverage = blurred[..., 3] / np.float32(255.0)
    return push_pull_fill(np.ascontiguousarray(blurred[..., :3]), coverage)


def frozen_composite(rgb: np.ndarray, matte: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Main's tiled composite equals this full-frame blend exactly (its own test said so)."""
    background = cv2.resize(cv2.convertScaleAbs(low), rgb.shape[1::-1],
                            interpolation=cv2.INTER_LINEAR)
    return cv2.blendLinear(rgb, background, matte, 1.0 - matte)


def frozen_reduce(image: np.ndarray, levels: int) -> np.ndarray:
    """Main's ``lens.reduce``: one INTER_AREA resize when the factor divides the size."""
    h, w = image.shape[:2]
    step = 1 << levels
    if levels and h % step == 0 and w % step == 0:
        return cv2.resize(image, (w // step, h // step), interpolation=cv2.INTER_AREA)
    return halve(image, levels)


def frozen_lens(rgb: np.ndarray, coc: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """Main's ``lens_blur``: float decode at frame size, frame-size CoC and focus weight."""
    h, w = rgb.shape[:2]
    if max(-coc.min(), coc.max()) <= lens.FOCUS_RADIUS:
        return rgb.copy()
    base = lens.base_level(w, h)
    first = float(1 << base)
    scale = 128.0 / first
    ramp = np.clip((first - np.arange(256, dtype=np.float32) / scale)
                   / (first - lens.FOCUS_RADIUS), 0.0, 1.0)
    focus8 = cv2.LUT(cv2.convertScaleAbs(coc, alpha=scale), np.rint(ramp * 255).astype(np.uint8))
    cv2.max(focus8, cv2.convertScaleAbs(matte, alpha=255.0), dst=focus8)
    linear = frozen_reduce(lens.decode(rgb, lens.HIGHLIGHT_GAIN), base)
    focus = frozen_reduce(focus8, base).astype(np.float32) / np.float32(255.0)
    layer, gain = lens._blurred_layer(linear, frozen_reduce(coc, base), focus, first, base, 0, 0.0)
    blurred = cv2.resize(lens.encode(layer, lens.HIGHLIGHT_GAIN), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    gain8 = cv2.resize(cv2.convertScaleAbs(gain, alpha=lens.GAIN_SCALE), (w, h),
                       interpolation=cv2.INTER_LINEAR)
    weight = cv2.cvtColor(cv2.multiply(focus8, gain8, scale=1.0 / lens.GAIN_SCALE),
                          cv2.COLOR_GRAY2RGB)
    sharp = cv2.multiply(rgb, weight, scale=1.0 / 255.0)
    return cv2.add(cv2.multiply(blurred, cv2.subtract(255, weight), scale=1.0 / 255.0), sharp)


def frozen_render(rgb, matte, settings, coc=None) -> np.ndarray:
    if settings.style == "lens":
        return frozen_lens(rgb, coc, matte)
    job = background_job(settings, rgb.shape[1], rgb.shape[0])
    if job is None:
        return rgb.copy()
    style, params = job
    blur = {"gaussian": frozen_gaussian, "motion": styles.motion_background,
            "radial": styles.radial_background}[style]
    return frozen_composite(rgb, matte, blur(rgb, matte, *params))


# --- the comparison ----------------------------------------------------------------------------

@pytest.fixture(scope="module", params=PHOTOS)
def frame(request):
    rgb, _ = load_person(request.param)
    assert rgb.shape == (720, 1280, 3)
    with BokehProcessor(BokehSettings(), video=False) as processor:
        matte = processor.process(rgb).matte.copy()
    return rgb, matte


@pytest.mark.parametrize("style", ["gaussian", "motion", "radial"])
def test_2d_styles_match_the_renderer_before_the_speed_work(frame, style):
    rgb, matte = frame
    for strength in STRENGTHS:
        settings = BokehSettings(style=style, strength=strength, grain="off")
        new = CpuRenderer().render(rgb, matte, settings)
        old = frozen_render(rgb, matte, settings)
        assert psnr(new, old) >= MIN_PSNR, (style, strength, psnr(new, old))
        if strength >= 30:
            assert psnr(new, rgb) < 35 < psnr(new, old)  # it did blur


def test_lens_matches_the_renderer_before_the_speed_work(frame):
    rgb, matte = frame
    h, w = rgb.shape[:2]
    for strength in STRENGTHS:
        settings = BokehSettings(style="lens", strength=strength, grain="off",
                                 depth_model=str(need(DEPTH_MODEL)))
        dof = DepthOfField(settings, video=False)
        try:
            low = dof.coc(rgb, matte, blur_radius(strength, w, h), frame_size=False).copy()
        finally:
            dof.close()
        full = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)  # what main rendered
        old = frozen_lens(rgb, full, matte)
        for coc in (full, low):  # the video pipeline now hands over the low-resolution map
            new = CpuRenderer().render(rgb, matte, settings, coc)
            assert psnr(new, old) >= MIN_PSNR, (strength, coc.shape, psnr(new, old))
