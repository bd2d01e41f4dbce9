"""The gaussian render path: strength mapping, exactness, determinism and no colour bleed."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from conftest import portrait_person
from livebokeh.pipeline import blur_image
from livebokeh.render import halo_free as render

RED = (230, 20, 20)


def test_strength_zero_returns_the_input_exactly():
    rgb, truth = portrait_person()
    matte = truth.astype(np.uint8) * 255
    assert np.array_equal(blur_image(rgb, strength=0, grain="off"), rgb)
    assert np.array_equal(blur_image(rgb, strength=0, matte=matte, grain="off"), rgb)


@pytest.mark.parametrize("strength, width, height, expected", [
    (100, 1920, 1080, 0.04 * math.hypot(1920, 1080)),  # 88.1 px
    (30, 1280, 720, 0.012 * math.hypot(1280, 720)),  # 17.6 px
    (50, 640, 480, 0.02 * 800),  # 16 px on a 3:4:5 frame
    (0, 1920, 1080, 0.0),
])
def test_blur_radius_is_a_fraction_of_the_diagonal(strength, width, height, expected):
    assert render.blur_radius(strength, width, height) == pytest.approx(expected)


def test_same_strength_looks_the_same_at_any_resolution():
    full_hd = render.blur_radius(40, 1920, 1080)
    assert render.blur_radius(40, 3840, 2160) == pytest.approx(2 * full_hd)


@pytest.mark.parametrize("sigma, level", [(0.5, 0), (2.0, 0), (2.1, 1), (8.8, 3), (44.0, 5)])
def test_pyramid_level_keeps_the_low_res_sigma_small(sigma, level):
    assert render.pyramid_level(sigma) == level
    assert sigma / (1 << level) <= render.LOW_RES_SIGMA


def test_render_is_deterministic_with_frame_shape_and_dtype():
    rgb, _ = portrait_person()
    rgb = cv2.resize(rgb, (480, 320), interpolation=cv2.INTER_AREA)
    first = blur_image(rgb, strength=60, grain="off")
    again = blur_image(rgb, strength=60, grain="off")
    assert first.shape == rgb.shape and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert np.abs(first.astype(np.int16) - rgb).mean() > 2  # the background did get blurred


def test_push_pull_fill_takes_the_surrounding_colour():
    colour = np.zeros((64, 96, 3), np.float32)
    colour[:, :48] = (200, 40, 10)
    colour[:, 48:] = (10, 40, 200)
    coverage = np.ones((64, 96), np.float32)
    coverage[16:48, 40:56] = 0.0  # a hole across the colour boundary
    filled = render.push_pull_fill(colour * coverage[..., None], coverage)
    assert np.allclose(filled[coverage == 1], colour[coverage == 1], atol=1e-3)
    hole = filled[16:48, 40:56]
    assert np.allclose(hole[..., 1], 40, atol=0.5)  # only the surrounding colours, mixed:
    assert np.allclose(hole[..., 0] + hole[..., 2], 210, atol=1.0)  # R + B stays 200 + 10
    assert hole[:, 0, 0].min() > 150 and hole[:, -1, 2].min() > 150  # orange side, blue side
    assert (np.diff(hole[..., 0], axis=1) < 0).all()  # a smooth ramp across the hole


def red_square_scene(size=(360, 480)):
    """A red square subject with a soft-edged known alpha on a blue/green textured ground."""
    h, w = size
    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur(rng.uniform(0, 1, (h, w)).astype(np.float32), (0, 0), 3)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    ground = np.stack([np.full((h, w), 20.0), 60 + 150 * texture, 200 - 150 * texture], -1)
    alpha = np.zeros((h, w), np.float32)
    alpha[110:250, 170:310] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    frame = alpha[..., None] * np.array(RED, np.float32) + (1 - alpha[..., None]) * ground
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), ground, alpha


@pytest.mark.parametrize("strength, size", [
    (20, (360, 480)), (60, (360, 480)), (100, (360, 480)),
    (6, (720, 1280)), (12, (720, 1280)),  # below the fill level: plain blur + halo correction
])
def test_no_subject_colour_in_the_blurred_background(strength, size):
    frame, ground, alpha = red_square_scene(size)
    out = blur_image(frame, strength=strength, matte=(alpha * 255).astype(np.uint8), grain="off")
    distance = cv2.distanceTransform((alpha < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    ring = (distance >= 3) & (distance <= 40)
    # the ground's red is 20 everywhere; the only red allowed is the pixel's own alpha share
    allowed = 20 + alpha * (RED[0] - 20)
    assert (out[..., 0] - allowed)[ring].max() <= 2.0
    naive = cv2.GaussianBlur(frame, (0, 0), render.blur_radius(strength, *size[::-1]) / 2)
    assert naive[..., 0][ring].max() > 40  # a plain blur does smear the square's red out


def test_composite_matches_a_full_frame_blend_exactly():
    rgb, truth = portrait_person()
    rgb = cv2.resize(rgb, (613, 419), interpolation=cv2.INTER_AREA)  # not a tile multiple
    matte = cv2.resize(truth.astype(np.float32), (613, 419), interpolation=cv2.INTER_AREA)
    matte = cv2.GaussianBlur(matte, (0, 0), 2.0)
    matte[matte > 0.97] = 1.0
    matte[matte < 0.02] = 0.0
    low = render.gaussian_background(rgb, matte, 9.0)
    out = render.composite(rgb, matte, low, np.empty_like(rgb))
    background = cv2.resize(cv2.convertScaleAbs(low), (613, 419), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(out, cv2.blendLinear(rgb, background, matte, 1.0 - matte))
    inplace = rgb.copy()
    render.composite(inplace, matte, low, inplace)
    assert np.array_equal(inplace, out)


@pytest.mark.parametrize("dtype, full", [(np.float32, 1.0), (np.uint8, 255)])
def test_edge_tiles_cover_exactly_the_tiles_with_fractional_weight(dtype, full):
    rng = np.random.default_rng(5)
    height, width, tile = 203, 331, render.COMPOSITE_TILE  # partial tiles on both sides
    weight = np.where(rng.random((height, width)) < 0.5, 0, full).astype(dtype)
    smallest = np.nextafter(np.float32(0), np.float32(1)) if dtype == np.float32 else 1
    largest = np.nextafter(np.float32(1), np.float32(0)) if dtype == np.float32 else 254
    for value in (smallest, largest, full / 2):  # scattered fractional pixels, the extremes too
        ys, xs = rng.integers(0, height, 6), rng.integers(0, width, 6)
        weight[ys, xs] = value
    solid = cv2.compare(weight, full, cv2.CMP_GE)
    runs = render.edge_tiles(weight, solid, {})
    flagged = np.zeros((-(-height // tile), -(-width // tile)), bool)
    for rows, cols in runs:
        flagged[rows.start // tile, cols.start // tile:cols.stop // tile] = True
    fractional = (weight > 0) & (weight < full)
    expected = np.zeros_like(flagged)
    for y, x in zip(*np.nonzero(fractional), strict=True):
        expected[y // tile, x // tile] = True
    assert expected.sum() >= 10
    assert np.array_equal(flagged, expected)
