"""The video refiner's frame-size passes cover only what the grid matte can reach."""

import cv2
import numpy as np

from livebokeh.matte import refine
from livebokeh.perception.regions import Box, crop
from livebokeh.perception.subject import PersonMask


def small_subject(rgb: np.ndarray) -> PersonMask:
    """A box over most of the frame whose confidence holds one small soft blob."""
    box = Box(40.0, -60.0, 1240.0, 1140.0)
    seen = crop(rgb, box, (256, 256))
    confidence = np.zeros((256, 256), np.float32)
    cv2.circle(confidence, (150, 120), 18, 1.0, -1)
    return PersonMask(cv2.GaussianBlur(confidence, (0, 0), 3.0), seen, box, "selfie")


def test_refine_equals_the_upsampling_over_the_whole_region(monkeypatch):
    rng = np.random.default_rng(3)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), np.uint8), (0, 0), 2.0)
    person = small_subject(rgb)
    fast = refine.MatteRefiner().refine(rgb, person)
    monkeypatch.setattr(refine, "_reach", lambda nonzero, region, width, height:
                        region.clipped(width, height))
    whole = refine.MatteRefiner().refine(rgb, person)
    np.testing.assert_allclose(fast, whole, atol=1e-6)
    assert 0 < np.count_nonzero(fast) < 0.1 * fast.size  # the blob, grown by the filters


def test_a_carried_grid_stands_in_for_both_grid_filters(monkeypatch):
    """Given ``carry``, the last frame's upsampling grid (the grey filter's coefficients and
    the grid matte) is moved (here: kept where it is) and applied to this frame's luma,
    instead of the colour and grey filters being run again."""
    rng = np.random.default_rng(4)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), np.uint8), (0, 0), 2.0)
    person = small_subject(rgb)
    computed = []
    for name in ("color_guided_coefficients", "grey_guided_coefficients"):
        original = getattr(refine, name)
        monkeypatch.setattr(refine, name, lambda *args, run=original, name=name:
                            computed.append(name) or run(*args))
    refiner = refine.MatteRefiner()
    first = refiner.refine(rgb, person).copy()
    assert refiner.refine(rgb, person, carry=lambda grid: None).tolist() == first.tolist()
    assert len(computed) == 4  # nothing to carry: both filters ran again
    moved = []
    again = refiner.refine(rgb, person, carry=lambda grid: moved.append(grid) or grid.copy())
    assert len(computed) == 4 and len(moved) == 1 and moved[0].shape == (256, 256, 3)
    np.testing.assert_array_equal(again, first)  # same frame, grid kept: same matte
    brighter = cv2.add(rgb, 40)
    carried = refiner.refine(brighter, person, carry=lambda grid: grid.copy())
    assert not np.array_equal(carried, first)  # applied to this frame's luma
    assert len(computed) == 4


def test_refine_overwrites_every_pixel_of_a_reused_buffer():
    """The frame-size matte buffer is reused from frame to frame: everything outside what
    the grid matte reaches is zeroed, whatever the buffer held."""
    rng = np.random.default_rng(5)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), np.uint8), (0, 0), 2.0)
    person = small_subject(rgb)
    fresh = refine.MatteRefiner().refine(rgb, person, out=np.zeros((720, 1280), np.float32))
    reused = refine.MatteRefiner().refine(rgb, person, out=np.full((720, 1280), 7, np.float32))
    np.testing.assert_array_equal(reused, fresh)


def _refined_with_bands(monkeypatch, rgb, person):
    """The refined matte, and the last row (exclusive) of its upsampling's first band."""
    bands, columns = [], refine._band_columns
    with monkeypatch.context() as patched:
        patched.setattr(refine, "_band_columns", lambda nonzero, to_grid, top, bottom, *rest:
                        bands.append(bottom) or columns(nonzero, to_grid, top, bottom, *rest))
        return refine.MatteRefiner().refine(rgb, person), bands[0]


def test_bands_reach_the_rows_a_blob_below_them_spreads_into(monkeypatch):
    """Two blobs in different columns, the lower one starting just under the first band of
    the upsampling: the band must still cover the rows its blur reaches above it."""
    rng = np.random.default_rng(6)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), np.uint8), (0, 0), 2.0)
    box = Box(0.0, -280.0, 1280.0, 1000.0)  # 5 frame px per grid px
    seen = crop(rgb, box, (256, 256))
    spread_into_band = False
    for row in range(116, 132):  # the lower blob's centre, grid rows
        confidence = np.zeros((256, 256), np.float32)
        cv2.circle(confidence, (40, 70), 8, 1.0, -1)
        cv2.circle(confidence, (180, row), 14, 1.0, -1)
        person = PersonMask(confidence, seen, box, "selfie")
        with monkeypatch.context() as patched:
            patched.setattr(refine, "_reach", lambda nonzero, region, width, height:
                            region.clipped(width, height))
            whole = refine.MatteRefiner().refine(rgb, person)
        banded, first = _refined_with_bands(monkeypatch, rgb, person)
        np.testing.assert_allclose(banded, whole, atol=1e-6)
        spread_into_band |= bool(banded[first - 3:first, 800:1000].any()) and \
            not banded[first - 40:first - 20, 800:1000].any()
    assert spread_into_band  # some position put the lower blob's top edge in that zone
