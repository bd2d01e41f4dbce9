"""Circle of confusion: the thin-lens map on inverse depth (signs, tolerance band, roll-off,
cap), on a real depth estimate, and its float32 .npy/.tiff output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import DEPTH_MODEL, load_person, need
from livebokeh.errors import LivebokehError
from livebokeh.io.images import write_coc
from livebokeh.perception.depth import DepthEstimator
from livebokeh.render.coc import COC_SPAN, FOCUS_TOLERANCE, coc_map
from livebokeh.render.halo_free import blur_radius

FOCUS, R_MAX = 0.6, 20.0


def ramp() -> np.ndarray:
    """Inverse depth 0..1 along x (1 = nearest), 1001 columns."""
    return np.tile(np.linspace(0.0, 1.0, 1001, dtype=np.float32), (3, 1))


def test_signs_tolerance_and_cap():
    depth = ramp()
    coc = coc_map(depth, FOCUS, R_MAX)
    assert coc.dtype == np.float32 and coc.shape == depth.shape
    delta = FOCUS - depth
    assert np.all(coc[np.abs(delta) <= FOCUS_TOLERANCE] == 0)  # the focal band stays sharp
    assert np.all(coc[delta > FOCUS_TOLERANCE + 1e-6] > 0)  # behind: far, positive
    assert np.all(coc[delta < -FOCUS_TOLERANCE - 1e-6] < 0)  # in front: near, negative
    assert np.abs(coc).max() == pytest.approx(R_MAX)
    assert np.all(coc[delta >= FOCUS_TOLERANCE + COC_SPAN] == pytest.approx(R_MAX))


def test_thin_lens_roll_off_is_linear_in_inverse_depth():
    depth = ramp()
    coc = coc_map(depth, FOCUS, R_MAX)[0]
    far = (depth[0] < FOCUS - FOCUS_TOLERANCE) & (depth[0] > FOCUS - FOCUS_TOLERANCE - COC_SPAN)
    expected = (FOCUS - depth[0][far] - FOCUS_TOLERANCE) * R_MAX / COC_SPAN
    np.testing.assert_allclose(coc[far], expected, rtol=1e-5, atol=1e-4)
    assert np.all(np.diff(coc) <= 0)  # |r| never shrinks moving away from the focal plane
    halfway = FOCUS - FOCUS_TOLERANCE - COC_SPAN / 2
    assert coc_map(np.float32([[halfway]]), FOCUS, R_MAX)[0, 0] == pytest.approx(R_MAX / 2)


def test_near_blur_off_keeps_the_foreground_sharp():
    depth = ramp()
    with_near = coc_map(depth, FOCUS, R_MAX)
    without = coc_map(depth, FOCUS, R_MAX, near_blur=False)
    assert without.min() == 0.0 and with_near.min() < 0
    np.testing.assert_array_equal(without[with_near > 0], with_near[with_near > 0])


def test_tolerance_and_buffer_are_honoured():
    depth = ramp()
    wide = coc_map(depth, FOCUS, R_MAX, tolerance=0.2)
    assert np.all(wide[np.abs(FOCUS - depth) <= 0.2] == 0)
    assert np.count_nonzero(wide) < np.count_nonzero(coc_map(depth, FOCUS, R_MAX))
    buffer = np.empty_like(depth)
    assert coc_map(depth, FOCUS, R_MAX, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, coc_map(depth, FOCUS, R_MAX))
    assert not coc_map(depth, FOCUS, 0.0).any()
    with pytest.raises(ValueError):
        coc_map(depth, FOCUS, -1.0)


def test_real_photo_subject_sharp_background_blurred():
    estimator = DepthEstimator(need(DEPTH_MODEL))
    for index in (1, 4, 7):
        rgb, mask = load_person(index)
        depth = estimator.estimate(rgb)
        r_max = blur_radius(100, rgb.shape[1], rgb.shape[0])
        coc = coc_map(depth, float(np.median(depth[mask])), r_max)
        assert np.median(np.abs(coc[mask])) < 0.1 * r_max
        assert np.median(coc[~mask]) > 0.5 * r_max


@pytest.mark.parametrize("suffix", [".npy", ".tiff", ".tif"])
def test_save_coc_round_trip(tmp_path, suffix):
    coc = coc_map(ramp(), FOCUS, R_MAX)
    path = tmp_path / f"coc{suffix}"
    write_coc(path, coc)
    loaded = np.load(path) if suffix == ".npy" else cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, coc)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_save_coc_rejects_other_formats(tmp_path):
    with pytest.raises(LivebokehError, match=r"\.npy or \.tiff"):
        write_coc(tmp_path / "coc.png", np.zeros((4, 4), np.float32))
    assert not any(tmp_path.iterdir())
