"""Brush strokes painted into refine masks: geometry, feathering, order, any resolution."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import DEPTH_MODEL, load_person, need
from livebokeh.errors import LivebokehError
from livebokeh.matte.brush import AUTO, LINE_BLEED, Stroke, refine_mask
from livebokeh.matte.refine import apply_refine_mask, blur_erased
from livebokeh.pipeline import blur_image


def test_hard_dot_has_its_radius_and_target():
    mask = refine_mask([Stroke("restore", ((0.5, 0.5),), radius=0.1, softness=0)], 400, 300)
    assert mask.dtype == np.uint8 and mask.shape == (300, 400)
    inside = (mask > 191).sum()  # more than half way from 128 to 255
    assert abs(inside - np.pi * 40**2) < 0.03 * np.pi * 40**2  # radius 0.1 of the long side
    assert mask[150, 200] == 255 and mask[0, 0] == AUTO
    erase = refine_mask([Stroke("erase", ((0.5, 0.5),), 0.1, 0)], 400, 300)
    assert erase[150, 200] == 0 and erase[0, 0] == AUTO


def test_soft_edge_is_half_way_at_the_radius():
    mask = refine_mask([Stroke("restore", ((0.5, 0.5),), 0.1, softness=1.0)], 1000, 1000)
    profile = mask[500, 500:].astype(int)
    assert profile[0] == 255
    assert abs(profile[100] - (128 + 255) / 2) < 8  # the feather is centred on the radius
    assert profile[40] > 250 and profile[160] < 131  # and as wide as the radius
    assert np.all(np.diff(profile) <= 0)  # falls off monotonically


def test_later_stroke_paints_over_an_earlier_one():
    line = ((0.1, 0.5), (0.9, 0.5))
    restore, erase = Stroke("restore", line, 0.05, 0), Stroke("erase", ((0.5, 0.5),), 0.05, 0)
    assert refine_mask([restore, erase], 200, 200)[100, 100] == 0
    assert refine_mask([erase, restore], 200, 200)[100, 100] == 255
    assert refine_mask([restore, erase], 200, 200)[100, 40] == 255  # the rest of the line


@pytest.mark.parametrize("softness", [0.0, 0.5, 1.0])
def test_same_strokes_at_preview_and_full_size_agree(softness):
    strokes = [Stroke("erase", ((0.2, 0.3), (0.5, 0.35), (0.7, 0.7)), 0.04, softness),
               Stroke("restore", ((0.6, 0.2), (0.62, 0.25)), 0.02, softness)]
    full = refine_mask(strokes, 4000, 3000)
    preview = refine_mask(strokes, 1000, 750)
    shrunk = cv2.resize(full, (1000, 750), interpolation=cv2.INTER_AREA)
    difference = np.abs(shrunk.astype(int) - preview.astype(int))
    # hard edges differ by part of a pixel's coverage at most (sub-pixel placement)
    assert difference.mean() < 0.3 and np.percentile(difference, 99.9) < 40
    assert difference.max() < 96


def test_wide_feather_drawn_reduced_matches_a_direct_blur():
    """A soft stroke at full size is blurred on a halved layer: check against doing it whole."""
    stroke = Stroke("erase", ((0.3, 0.4), (0.6, 0.5)), 0.08, 1.0)
    width, height = 3000, 2000
    mask = refine_mask([stroke], width, height).astype(np.float32)
    radius = 0.08 * width
    layer = np.zeros((height, width), np.uint8)
    points = ((np.array(stroke.points) * (width, height) - 0.5) * 16).round().astype(np.int32)
    cv2.polylines(layer, [points.reshape(-1, 1, 2)], False, 255,
                  2 * round(radius - LINE_BLEED), cv2.LINE_AA, 4)
    coverage = cv2.GaussianBlur(layer.astype(np.float32) / 255, (0, 0), radius / 6)
    direct = AUTO + (0 - AUTO) * coverage
    difference = np.abs(mask - direct)
    # the reduced layer places the core to half a reduced pixel: a few levels of 128 at most
    assert difference.mean() < 0.3 and difference.max() < 8
    ys, xs = np.mgrid[:height, :width]
    for weights in (AUTO - mask, AUTO - direct):  # but nothing is shifted: same centroid
        weights = weights / weights.sum()
        assert abs((xs * weights).sum() - 0.45 * width + 0.5) < 0.5
        assert abs((ys * weights).sum() - 0.45 * height + 0.5) < 0.5


def test_strokes_outside_the_picture_change_nothing():
    away = Stroke("erase", ((1.8, 1.8), (1.9, 1.7)), 0.05, 0.5)
    assert np.all(refine_mask([away], 300, 200) == AUTO)


@pytest.mark.parametrize("data, message", [
    ({"mode": "smudge", "points": [[0.5, 0.5]], "radius": 0.1}, "restore or erase"),
    ({"mode": "erase", "points": [], "radius": 0.1}, "1..20000 points"),
    ({"mode": "erase", "points": [[0.5, 0.5]], "radius": 0}, "radius must be"),
    ({"mode": "erase", "points": [[0.5, 0.5]], "radius": 0.1, "softness": 2}, "softness"),
    ({"mode": "erase", "points": [[50, 0.5]], "radius": 0.1}, "fractions"),
    ({"mode": "erase", "points": [["a", 0.5]], "radius": 0.1}, "needs mode, points"),
    ({"points": [[0.5, 0.5]], "radius": 0.1}, "needs mode, points"),
])
def test_bad_strokes_are_one_line_errors(data, message):
    with pytest.raises(LivebokehError, match=message):
        Stroke.parse(data)


def test_stroke_round_trips_through_json_data():
    stroke = Stroke("restore", ((0.1, 0.2), (0.3, 0.4)), 0.05, 0.25)
    assert Stroke.parse(stroke.as_dict()) == stroke


def test_erased_pixels_get_the_full_blur_radius():
    refine = np.array([[0, 26, 56, 86, 128, 255]], np.uint8)
    coc = np.full(refine.shape, -2.0, np.float32)
    blur_erased(coc, refine, 20.0)
    assert np.allclose(coc, [[20, 20, 9, -2, -2, -2]])
    matte = np.ones(refine.shape, np.float32)
    assert np.allclose(apply_refine_mask(matte, refine), [[0, 0, 0.5, 1, 1, 1]])


def test_erase_mask_blurs_the_person_in_the_lens_style_too():
    """The lens blurs by depth: without ``blur_erased`` an erased subject at the focal
    distance stayed sharp; black in a --mask must blur in every style."""
    rgb, truth = load_person(12)
    erase_all = np.zeros(rgb.shape[:2], np.uint8)
    out = blur_image(rgb, style="lens", strength=40, grain="off", refine_mask=erase_all,
                     depth_model=str(need(DEPTH_MODEL)))
    kept = blur_image(rgb, style="lens", strength=40, grain="off",
                      depth_model=str(DEPTH_MODEL))
    person = cv2.erode(truth.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0

    def detail(image):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.abs(cv2.Laplacian(grey, cv2.CV_32F))[person].mean()

    assert detail(out) < 0.5 * detail(kept)
