"""Lens blur: the fast renderer against the exact layered-scatter reference, and the lens
behaviours one can see: aperture-shaped highlight discs, no halo around a sharp subject,
a blurred foreground that spills over what is behind it."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from livebokeh.errors import LivebokehError
from livebokeh.eval.metrics import psnr
from livebokeh.eval.reference import reference_lens_blur
from livebokeh.eval.synthetic import SUBJECT_DEPTH, make_scene
from livebokeh.render.halo_free import blur_radius
from livebokeh.render.lens import aperture_kernel, lens_blur

WIDTH, HEIGHT = 320, 240
DEPTH_RANGE = 0.4  # inverse-depth distance from the focus plane at which the CoC is largest


def scene_coc(inv_depth: np.ndarray, strength: float) -> np.ndarray:
    """Signed CoC (px) of the thin-lens model, largest radius from ``blur_radius``."""
    r_max = blur_radius(strength, inv_depth.shape[1], inv_depth.shape[0])
    coc = (SUBJECT_DEPTH - inv_depth) * (r_max / DEPTH_RANGE)
    return np.clip(coc, -r_max, r_max).astype(np.float32)


@pytest.fixture(scope="module")
def scene():
    return make_scene(WIDTH, HEIGHT, seed=3)


def point_light(size: int, coc: float, background: int = 0):
    """A one-pixel light at 255 in the middle of a flat image, with a constant CoC."""
    rgb = np.full((size, size, 3), background, np.uint8)
    rgb[size // 2, size // 2] = 255
    return rgb, np.full((size, size), coc, np.float32)


def rotated(image: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_LINEAR)


@pytest.mark.parametrize("blades", [0, 6])
@pytest.mark.parametrize("strength", [20, 50, 100])
def test_fast_renderer_matches_reference(scene, strength, blades):
    rgb, inv_depth, matte = scene
    coc = scene_coc(inv_depth, strength)
    reference = reference_lens_blur(rgb, coc, blades=blades, rotation_deg=10)
    fast = lens_blur(rgb, coc, matte, blades=blades, rotation_deg=10)
    assert psnr(fast, reference) >= 32.0
    # The renderers agree with each other far better than with the unblurred frame.
    assert psnr(rgb, reference) < psnr(fast, reference) - 3.0


@pytest.mark.parametrize("render", [lens_blur, reference_lens_blur])
@pytest.mark.parametrize("coc_px", [8.0, -12.0, 16.0])
def test_point_light_becomes_disc_of_its_coc(render, coc_px):
    rgb, coc = point_light(121, coc_px)
    out = render(rgb, coc)[..., 1].astype(np.float32)
    area = np.count_nonzero(out > out.max() / 2)
    assert area == pytest.approx(math.pi * coc_px**2, rel=0.15)
    assert np.count_nonzero(out[:, :10]) == 0  # nothing beyond the disc


@pytest.mark.parametrize("render", [lens_blur, reference_lens_blur])
def test_hexagonal_aperture_has_sixfold_symmetry(render):
    rgb, coc = point_light(121, 16.0)
    out = render(rgb, coc, blades=6)[..., 1].astype(np.float32)
    moments = cv2.moments(out)
    centre = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
    turned_60 = np.abs(out - rotated(out, 60, centre)).mean()
    turned_30 = np.abs(out - rotated(out, 30, centre)).mean()
    assert turned_30 > 1.5 * turned_60


def test_polygon_corner_points_up_and_rotates():
    hexagon = aperture_kernel(20.0, blades=6)
    half = hexagon.shape[0] // 2
    column, row = hexagon[:, half], hexagon[half, :]
    assert np.count_nonzero(column) > np.count_nonzero(row)  # corner up: taller than wide
    turned = aperture_kernel(20.0, blades=6, rotation_deg=30)
    assert np.count_nonzero(turned[:, half]) < np.count_nonzero(turned[half, :])
    assert hexagon.sum() == pytest.approx(1.0, abs=1e-5)
    disc_cells = np.count_nonzero(aperture_kernel(20.0))
    assert np.count_nonzero(hexagon) == pytest.approx(disc_cells, rel=0.05)  # equal area


def test_highlight_gain_makes_lights_bloom():
    rgb, coc = point_light(121, 10.0)
    plain = lens_blur(rgb, coc, highlight_gain=0.0)
    boosted = lens_blur(rgb, coc, highlight_gain=4.0)
    assert int(boosted.max()) > int(plain.max()) + 15


def test_sharp_subject_gets_no_background_light():
    size = 160
    yy, xx = np.mgrid[0:size, 0:size]
    subject = (np.hypot(xx - 80, yy - 80) < 30).astype(np.float32)
    rgb = np.full((size, size, 3), 250, np.uint8)
    rgb[subject > 0] = (40, 30, 60)
    coc = np.where(subject > 0, 0.0, 20.0).astype(np.float32)
    out = lens_blur(rgb, coc, matte=subject)
    inside = subject > 0
    assert np.abs(out[inside].astype(int) - rgb[inside]).max() <= 1
    ring = (np.hypot(xx - 80, yy - 80) > 31) & (np.hypot(xx - 80, yy - 80) < 45)
    assert out[ring].min() >= 245  # and no dark subject colour smeared around it (halo)


def test_blurred_foreground_spills_over_focus():
    rgb = np.full((120, 160, 3), 220, np.uint8)
    rgb[:, 70:90] = 20
    coc = np.zeros((120, 160), np.float32)
    coc[:, 70:90] = -12.0
    fast, reference = lens_blur(rgb, coc), reference_lens_blur(rgb, coc)
    for out in (fast, reference):
        assert out[60, 64].max() < 200  # 6 px into the sharp area: darkened by the bar
        assert out[60, 40].min() >= 219  # beyond the blur radius: untouched
    assert np.abs(fast.astype(int) - reference).max() < 40


@pytest.mark.parametrize("render", [lens_blur, reference_lens_blur])
def test_continuous_depth_shows_no_seams(render):
    """A smooth gradient on a floor-like CoC ramp stays smooth (no dark bands at slices)."""
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    rgb = np.repeat((60 + xx)[..., None], 3, axis=2).astype(np.uint8)
    coc = (yy / 119.0 * 24.0 - 8.0).astype(np.float32)  # -8 (near) .. 16 (far), by row
    out = render(rgb, coc).astype(int)
    interior = (slice(20, 100), slice(20, 140))
    assert np.abs(out[interior] - rgb[interior]).max() <= 3


def test_zero_coc_returns_input(scene):
    rgb, _, matte = scene
    coc = np.zeros(rgb.shape[:2], np.float32)
    out = np.empty_like(rgb)
    assert lens_blur(rgb, coc, matte, out=out) is out
    assert np.array_equal(out, rgb)
    assert np.abs(reference_lens_blur(rgb, coc).astype(int) - rgb).max() <= 1


def test_subject_stays_sharp_where_no_foreground_reaches(scene):
    rgb, inv_depth, matte = scene
    coc = scene_coc(inv_depth, 50)
    out = lens_blur(rgb, coc, matte)
    reach = blur_radius(50, WIDTH, HEIGHT) * 1.5
    away_from_near = cv2.distanceTransform((coc >= 0).astype(np.uint8), cv2.DIST_L2, 5) > reach
    sharp = (matte == 1.0) & away_from_near
    assert np.count_nonzero(sharp) > 1000
    assert np.abs(out[sharp].astype(int) - rgb[sharp]).max() <= 1
    assert np.abs(out.astype(int) - rgb).mean() > 5


@pytest.mark.parametrize("coc_scale", [1, 4])  # a frame-size CoC, and a depth model's
def test_deterministic_and_reuses_work_buffers(scene, coc_scale):
    rgb, inv_depth, matte = scene
    full = scene_coc(inv_depth, 100)
    coc = cv2.resize(full, (WIDTH // coc_scale, HEIGHT // coc_scale), interpolation=cv2.INTER_AREA)
    work: dict = {}
    first = lens_blur(rgb, coc, matte, blades=7, rotation_deg=20, work=work)
    buffers = {name: buffer.ctypes.data for name, buffer in work.items()}
    second = lens_blur(rgb, coc, matte, blades=7, rotation_deg=20, work=work)
    assert np.array_equal(first, second)
    assert np.array_equal(reference_lens_blur(rgb, full), reference_lens_blur(rgb, full))
    # every frame-size scratch array of a frame is a kept buffer, the same one each frame
    frame_size = {name for name, buffer in work.items() if buffer.shape[:2] == (HEIGHT, WIDTH)}
    assert {"codes", "matte8", "solid"} <= frame_size
    assert ("focus" in frame_size) == (coc_scale > 1)
    assert {name: buffer.ctypes.data for name, buffer in work.items()} == buffers


@pytest.mark.parametrize("change", [
    {"blades": 4}, {"highlight_gain": 7.0}, {"coc": np.zeros((10, 400), np.float32)},
    {"coc": np.zeros((240, 320), np.float64)}, {"matte": np.ones((240, 320), np.uint8)},
    {"rgb": np.zeros((240, 320), np.uint8)},
])
def test_bad_input_raises_one_line_error(change):
    args = {"rgb": np.zeros((240, 320, 3), np.uint8), "coc": np.zeros((240, 320), np.float32)}
    args.update(change)
    with pytest.raises(LivebokehError, match="^lens blur: [^\n]+$"):
        lens_blur(**args)


def test_synthetic_scene_is_a_usable_rgbd_frame(scene):
    rgb, inv_depth, matte = scene
    assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb.dtype == np.uint8
    assert inv_depth.dtype == np.float32 and matte.dtype == np.float32
    assert inv_depth.min() >= 0.0 and inv_depth.max() <= 1.0
    assert np.count_nonzero(rgb.min(axis=2) >= 215) > 20  # small lights near 255
    assert inv_depth[matte == 1.0].min() == inv_depth[matte == 1.0].max() == SUBJECT_DEPTH
    floor = inv_depth[150:, 300]  # right edge: only floor there, nearer row by row
    assert np.all(np.diff(floor) > 0) and np.diff(floor).max() < 0.01
    subject_box = np.argwhere(matte > 0.5)
    (top, left), (bottom, right) = subject_box.min(0), subject_box.max(0)
    in_front = inv_depth[top:bottom, left:right] > SUBJECT_DEPTH + 0.3
    assert in_front.any()  # the foreground leaf overlaps the subject
    again = make_scene(WIDTH, HEIGHT, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (rgb, inv_depth, matte), strict=True))
    assert not np.array_equal(make_scene(WIDTH, HEIGHT, seed=4)[0], rgb)


@pytest.mark.parametrize("nearer_first", [False, True])
def test_a_slice_blurred_over_its_reach_equals_the_whole_level_blur(nearer_first):
    from livebokeh.render import lens

    rng = np.random.default_rng(11)
    h, w = 90, 140
    before = rng.random((h, w, 4)).astype(np.float32) * 0.5
    colour = rng.random((h, w, 4)).astype(np.float32)
    colour[:, :20] = 0.0  # uncovered: no colour, whatever the share says
    share = np.zeros((h, w), np.float32)
    share[30:50, 60:75] = rng.random((20, 15)).astype(np.float32)  # one band of depths
    share[:, :20] = 1.0
    covered = cv2.compare(colour[..., 3], 0.0, cv2.CMP_GT)
    kernel = lens.scatter_kernel(4.0, blades=6, rotation_deg=10.0)
    weighted = cv2.multiply(colour, cv2.merge([share] * 4))
    expected = lens._stack(before.copy(), cv2.filter2D(
        weighted, -1, kernel, borderType=cv2.BORDER_CONSTANT), nearer_first)
    accumulated = before.copy()
    lens._add_slice(accumulated, colour, share, covered, kernel, nearer_first)
    assert np.abs(expected - accumulated).max() < 1e-6
    spread = (np.abs(expected - before).max(axis=2) > 1e-6).sum()
    assert spread > 20 * 15 + 2 * 4 * (20 + 15)  # the blur reached past the band's edges


def test_edge_run_blend_matches_the_full_frame_blend_of_an_in_place_render(scene):
    """Into a new buffer only the edge tiles are blended (``cv2.blendLinear``, one rounding);
    in place the whole frame is (``_blend``, two roundings): within one level, and equal
    wherever the weight is 0 or 255."""
    rgb, inv_depth, matte = scene
    coc = scene_coc(inv_depth, 60)
    out = lens_blur(rgb, coc, matte, blades=6)
    inplace = rgb.copy()
    assert lens_blur(inplace, coc, matte, blades=6, out=inplace) is inplace
    difference = np.abs(out.astype(np.int16) - inplace).max(axis=2)
    assert difference.max() <= 1
    assert 0 < np.count_nonzero(difference) < 0.2 * difference.size
    assert psnr(out, inplace) >= 50.0
