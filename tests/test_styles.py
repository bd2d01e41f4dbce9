"""Motion and radial (zoom) background blurs: direction, halo-free, zoom profile, constant cost."""

from __future__ import annotations

import numpy as np
import pytest

from livebokeh.render import halo_free as render
from livebokeh.render import styles

WIDTH, HEIGHT = 960, 540  # one halving to the work level: the reduced-resolution path runs


def stripes(period: float, direction: tuple[float, float]) -> np.ndarray:
    """Grey RGB uint8 sine stripes whose brightness varies along ``direction`` (x, y)."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    phase = (xs * direction[0] + ys * direction[1]) * (2 * np.pi / period)
    grey = np.round(128 + 100 * np.sin(phase)).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def render_full(rgb: np.ndarray, matte: np.ndarray, background_low: np.ndarray) -> np.ndarray:
    return render.composite(rgb, matte, background_low, np.empty_like(rgb))


def contrast_kept(before: np.ndarray, after: np.ndarray) -> float:
    """Std of the image centre after / before (borders excluded)."""
    inner = (slice(100, -100), slice(100, -100), 1)
    return float(after[inner].astype(np.float32).std() / before[inner].astype(np.float32).std())


def motion(rgb: np.ndarray, angle: float, length: float = 64) -> np.ndarray:
    no_subject = np.zeros(rgb.shape[:2], np.float32)
    return render_full(rgb, no_subject, styles.motion_background(rgb, no_subject, angle, length))


@pytest.mark.parametrize(("angle", "smeared", "kept"), [
    (0, (1, 0), (0, 1)),  # horizontal streaks wipe out vertical stripes, keep horizontal ones
    (90, (0, 1), (1, 0)),
    (45, (1, -1), (1, 1)),  # counter-clockwise on screen: up-right, i.e. (+x, -y) in pixels
    (135, (1, 1), (1, -1)),
])
def test_motion_blurs_along_the_angle_only(angle, smeared, kept):
    across = stripes(32, smeared)  # varies along the motion: averaged away
    along = stripes(32, kept)  # constant along the motion: survives
    assert contrast_kept(across, motion(across, angle)) < 0.15
    assert contrast_kept(along, motion(along, angle)) > 0.8


def subject_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A pure red disc (known soft matte) over a green/blue texture without any red."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 220, (HEIGHT // 12, WIDTH // 12, 3)).astype(np.uint8)
    rgb = np.kron(coarse, np.ones((12, 12, 1), np.uint8))
    rgb[..., 0] = 0
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    distance = np.hypot(xs - WIDTH / 2, ys - HEIGHT / 2)
    matte = np.clip(120.5 - distance, 0, 1).astype(np.float32)  # radius 120 px, 1-px soft edge
    rgb[matte > 0] = (255, 0, 0)
    return rgb, matte


def red_in_ring(out: np.ndarray, matte: np.ndarray, reach: float) -> float:
    """Mean red level in the background ring 3..``reach`` px outside the subject's edge."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    distance = np.hypot(xs - WIDTH / 2, ys - HEIGHT / 2) - 120
    ring = (distance > 3) & (distance < reach) & (matte == 0)
    return float(out[..., 0][ring].mean())


@pytest.mark.parametrize("style", ["motion", "radial"])
def test_no_subject_colour_in_the_background(style):
    rgb, matte = subject_scene()
    no_subject = np.zeros_like(matte)
    if style == "motion":
        background = styles.motion_background(rgb, matte, 30, 80)
        naive = styles.motion_background(rgb, no_subject, 30, 80)  # subject blurred along
    else:
        background = styles.radial_background(rgb, matte, (0.5, 0.5), 100)
        naive = styles.radial_background(rgb, no_subject, (0.5, 0.5), 100)
    halo_free = red_in_ring(render_full(rgb, matte, background), matte, 30)
    smeared = red_in_ring(render_full(rgb, matte, naive), matte, 30)
    assert smeared > 30  # the naive whole-frame blur does drag red out
    assert halo_free < 0.1 * smeared


def texture(seed: int = 1) -> np.ndarray:
    """Random grey blobs about 16 px across (RGB uint8)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (HEIGHT // 16 + 1, WIDTH // 16 + 1), np.uint8)
    grey = np.kron(coarse, np.ones((16, 16), np.uint8))[:HEIGHT, :WIDTH]
    return np.repeat(grey[..., None], 3, axis=2)


def local_variance(image: np.ndarray, y: int, x: int, half: int = 24) -> float:
    return float(image[y - half:y + half, x - half:x + half, 1].astype(np.float32).var())


def test_radial_blur_grows_with_distance_from_the_centre():
    rgb = texture()
    no_subject = np.zeros(rgb.shape[:2], np.float32)
    centre = (0.4, 0.45)
    out = render_full(rgb, no_subject, styles.radial_background(rgb, no_subject, centre, 60))
    cy, cx = round(centre[1] * HEIGHT), round(centre[0] * WIDTH)
    kept = {(y, x): local_variance(out, y, x) / local_variance(rgb, y, x)
            for y, x in [(cy, cx), (cy, cx + 150), (cy + 150, cx + 300), (40, 40), (500, 920)]}
    ratios = list(kept.values())
    assert ratios[0] > 0.7  # the centre keeps its texture
    assert ratios == sorted(ratios, reverse=True)  # more blur farther out
    assert ratios[-1] < 0.15 and ratios[-2] < 0.15  # corners are streaked flat
    centre_patch = (slice(cy - 8, cy + 8), slice(cx - 8, cx + 8))
    assert np.abs(out[centre_patch].astype(int) - rgb[centre_patch]).mean() < 12


def test_radial_streaks_point_at_the_centre():
    """Rings around the centre are smeared radially; spokes through it survive."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    dx, dy = xs - WIDTH / 2, ys - HEIGHT / 2
    rings = np.round(128 + 100 * np.sin(np.hypot(dx, dy) * (2 * np.pi / 24)))
    spokes = np.round(128 + 100 * np.sin(np.arctan2(dy, dx) * 48))
    no_subject = np.zeros((HEIGHT, WIDTH), np.float32)
    kept = []
    for pattern in (rings, spokes):
        rgb = np.repeat(pattern.astype(np.uint8)[..., None], 3, axis=2)
        out = render_full(rgb, no_subject, styles.radial_background(rgb, no_subject,
                                                                    (0.5, 0.5), 100))
        far = np.hypot(dx, dy) > 200
        kept.append(out[..., 1][far].std() / rgb[..., 1][far].std())
    assert kept[0] < 0.2 < 0.6 < kept[1]


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080), (3840, 2160)])
def test_work_size_does_not_grow_with_blur_length(width, height):
    """Constant cost: the reduced image stays small and the box short whatever the length."""
    rgb = np.zeros((height, width, 3), np.uint8)
    matte = np.zeros((height, width), np.float32)
    shapes = set()
    for length in (20, 100, 400, 2000):
        level = styles.work_level(width, height, length)
        assert max(width, height) >> level <= styles.WORK_SIDE
        assert length / (1 << level) <= styles.LOW_RES_LENGTH
        shapes.add(styles.motion_background(rgb, matte, 20, length).shape)
    assert all(max(shape) <= styles.WORK_SIDE for shape in shapes)
    radial = {styles.radial_background(rgb, matte, (0.5, 0.5), amount).shape
              for amount in (5, 20, 100)}
    assert len(radial) == 1 and max(radial.pop()) <= styles.WORK_SIDE


def test_line_blur_is_a_normalised_box():
    """Flat colour stays flat (the box sums to 1), and a dot becomes a line of its length."""
    flat = np.full((60, 80, 4), 7.0, np.float32)
    assert np.allclose(styles.line_blur(30, 11)(flat)[20:40, 30:50], 7.0, atol=1e-3)
    dot = np.zeros((61, 81, 4), np.float32)
    dot[30, 40] = 1.0
    line = styles.line_blur(0, 11)(dot)[..., 0]
    assert np.count_nonzero(line > 1e-4) == 11 and np.all(line[30, 35:46] > 0.08)
    assert abs(float(line.sum()) - 1.0) < 1e-3


def test_motion_length_scales_with_the_diagonal():
    assert styles.motion_length(100, 1920, 1080) == pytest.approx(0.08 * np.hypot(1920, 1080))
    assert styles.motion_length(50, 1280, 720) == pytest.approx(
        2 * render.blur_radius(50, 1280, 720))
    assert styles.zoom_streak(100, 1920, 1080) == pytest.approx(0.2 * np.hypot(1920, 1080))
