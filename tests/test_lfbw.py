"""Our re-implementation of Linux-Fake-Background-Webcam's per-frame work (``eval.lfbw``).

What LFBW does per frame (read from its lfbw/lfbw.py): the landscape selfie model's category
mask, upscaled and smoothed, thresholded at 0.75, dilated 5x5, box-blurred 10x10, averaged
with the previous mask at 0.5; the whole frame Gaussian-blurred (kernel 21 sigma 7 by
default; with blur=N a second blur of kernel N, OpenCV's default sigma); a linear blend.
"""

from __future__ import annotations

import math

import av
import cv2
import numpy as np
import pytest

from clips import make_clip
from conftest import load_person
from livebokeh.eval.lfbw import (
    LfbwProcessor,
    LfbwSettings,
    blur_kernels,
    effective_sigma,
    lfbw_video,
)


def opencv_default_sigma(size: int) -> float:
    return 0.3 * ((size - 1) * 0.5 - 1) + 0.8


def truncated_variance(size: int, sigma: float) -> float:
    """Variance of a Gaussian of ``sigma`` sampled on ``size`` taps and normalised."""
    x = np.arange(size) - (size - 1) / 2
    weights = np.exp(-x * x / (2 * sigma * sigma))
    return float((weights * x * x).sum() / weights.sum())


def test_blur_kernels_follow_lfbw_options():
    assert blur_kernels(None) == [(21, 7.0)]
    assert blur_kernels(20) == [(21, 7.0), (21, 0.0)]  # 20 → odd 21; effect int(0.2*99)+1 = 20
    assert blur_kernels(61) == [(61, 61 / 3), (61, 0.0)]  # effect: int(0.61 * 99) + 1 = 61


@pytest.mark.parametrize("blur", [None, 21, 61])
def test_effective_sigma_is_the_std_of_the_blurs_together(blur):
    variance = sum(truncated_variance(size, sigma or opencv_default_sigma(size))
                   for size, sigma in blur_kernels(blur))  # variances of convolved kernels add
    assert effective_sigma(blur) == pytest.approx(math.sqrt(variance), rel=1e-3)
    assert effective_sigma(21) == pytest.approx(6.24, abs=0.01)
    assert effective_sigma(61) == pytest.approx(17.8, abs=0.01)


def post_processed(raw: np.ndarray) -> np.ndarray:
    """LFBW's mask post-processing written out: threshold 0.75, dilate 5x5, box 10x10."""
    hard = cv2.threshold(raw, 0.75, 1, cv2.THRESH_BINARY)[1]
    return cv2.blur(cv2.dilate(hard, np.ones((5, 5), np.uint8)), (10, 10))


@pytest.fixture(scope="module")
def photo():
    rgb, truth = load_person(72)  # a real 1280x720 photo with its person mask
    return rgb, truth


def test_frame_is_the_blend_of_frame_and_blurred_frame_by_the_post_processed_mask(photo):
    rgb, truth = photo
    with LfbwProcessor(LfbwSettings(61)) as lfbw:
        raw = lfbw.segment(rgb)
        assert set(np.unique(cv2.resize(raw, (256, 144)) > 0.5)) == {False, True}
        result = lfbw.process(rgb)
    mask = result.matte
    np.testing.assert_allclose(mask, post_processed(raw), atol=1e-6)  # first frame: no average
    background = cv2.GaussianBlur(cv2.GaussianBlur(rgb, (61, 61), 61 / 3), (61, 61), 0)
    np.testing.assert_array_equal(result.image,
                                  cv2.blendLinear(rgb, background, mask, 1 - mask))
    inside = cv2.erode(truth.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    assert np.mean(mask[inside] == 1.0) > 0.9  # the person is kept sharp
    assert np.mean(mask[~truth] == 0.0) > 0.9
    assert set(result.timings_ms) == {"segmentation", "matte", "render"}


def test_mask_is_averaged_with_the_previous_one(photo):
    rgb, _ = photo
    with LfbwProcessor() as lfbw:
        first = lfbw.process(rgb).matte.copy()
        shifted = np.ascontiguousarray(np.roll(rgb, 80, axis=1))
        second = lfbw.process(shifted).matte.copy()
        current = post_processed(lfbw.segment(shifted))
    np.testing.assert_allclose(second, 0.5 * first + 0.5 * current, atol=1e-5)
    assert np.abs(second - first).max() > 0.4  # the person moved


def test_lfbw_loop_in_the_same_pyav_decode_and_encode(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=8, size=(320, 180))
    out = tmp_path / "lfbw.mp4"
    assert lfbw_video(clip, out, LfbwSettings(21)) == 8
    with av.open(str(clip)) as source, av.open(str(out)) as result:
        assert [f.pts for f in source.decode(video=0)] == [f.pts for f in result.decode(video=0)]
        assert len(result.streams.audio) == 1  # audio kept, as livebokeh video keeps it
