"""Synthetic RGB-D scenes with known depth and subject matte, for tests and benchmarks.

``make_scene`` paints, back to front: a textured far wall with small bright lights (they
should bloom into aperture-shaped discs), a receding checkered floor whose inverse depth
changes continuously with the image row (slice seams would show on it), two boxes at middle
depth, a textured subject exactly at ``SUBJECT_DEPTH`` (the focus plane; its coverage is the
matte), and a foreground leaf nearer than the subject that overlaps its left side.

Inverse depth is 0..1, larger = nearer. Sizes scale with the image, so any resolution shows
the same scene. Deterministic for a given (width, height, seed).
"""

from __future__ import annotations

import numpy as np

WALL_DEPTH = 0.08
HORIZON = 0.45  # floor starts at this fraction of the height
FLOOR_NEAR_DEPTH = 0.85  # inverse depth of the floor at the bottom row
BOX_DEPTH = 0.3
SUBJECT_DEPTH = 0.5  # the subject stands on the focus plane
LEAF_DEPTH = 0.92


def _coverage(signed_distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage 0..1 of a shape from its signed distance (px, < 0 inside)."""
    return np.clip(0.5 - signed_distance, 0.0, 1.0).astype(np.float32)


def _ellipse(xs, ys, cx, cy, ax, ay, angle=0.0) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    u, v = (xs - cx) * c + (ys - cy) * s, -(xs - cx) * s + (ys - cy) * c
    return _coverage((np.hypot(u / ax, v / ay) - 1.0) * min(ax, ay))


def _paint(rgb, depth, cover, colour, inv_depth) -> None:
    """Composite ``colour`` (HxWx3 or RGB triple, 0..255) with ``cover`` over the scene."""
    rgb += cover[..., None] * (np.asarray(colour, np.float32) - rgb)
    np.copyto(depth, np.float32(inv_depth), where=cover > 0.5)


def _wall(xs, ys, rng, unit) -> np.ndarray:
    """Brick wall: random warm bricks with darker mortar and fine noise."""
    brick_h, brick_w = 3 * unit, 7 * unit
    row = np.floor(ys / brick_h)
    col = np.floor(xs / brick_w + 0.5 * (row % 2))
    palette = rng.uniform(60, 170, (64, 3)).astype(np.float32) * [1.0, 0.75, 0.6]
    colour = palette[((row * 7 + col * 13) % 64).astype(np.int64)]
    mortar = (ys % brick_h < 0.2 * brick_h) | ((xs / brick_w + 0.5 * (row % 2)) % 1 < 0.04)
    colour[mortar] = 45.0
    return colour


def _floor(xs, ys, depth, width, unit) -> np.ndarray:
    """Perspective checkerboard: tiles of equal world size, smaller towards the horizon."""
    z = 1.0 / depth
    world_x = (xs - width / 2) * z / (40 * unit)
    check = (np.floor(world_x) + np.floor(z * 6)) % 2
    light = np.stack([200 - 60 * check, 190 - 70 * check, 160 - 80 * check], -1)
    return light.astype(np.float32)


def make_scene(width: int, height: int, seed: int = 0):
    """A synthetic RGB-D frame: (rgb uint8 HxWx3, inv_depth float32 HxW 0..1, matte float32).

    ``inv_depth`` is larger for nearer surfaces; the subject sits at ``SUBJECT_DEPTH``;
    ``matte`` is its visible coverage (0..1, the foreground leaf cuts into it).
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    unit = height / 60.0  # scene units: the image is 60 units high
    horizon = HORIZON * height
    rgb = _wall(xs, ys, rng, unit)
    depth = np.full((height, width), WALL_DEPTH, np.float32)
    floor_depth = WALL_DEPTH + 0.02 + (FLOOR_NEAR_DEPTH - WALL_DEPTH - 0.02) * np.clip(
        (ys - horizon) / (height - horizon), 0.0, 1.0)
    floor = _coverage(horizon - ys)
    _paint(rgb, depth, floor, _floor(xs, ys, floor_depth, width, unit), 0.0)
    np.copyto(depth, floor_depth, where=floor > 0.5)
    for _ in range(10):  # small lights on the wall, near 255
        cx, cy = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.8) * horizon
        tint = rng.uniform(0.85, 1.0, 3) * 255
        _paint(rgb, depth, _ellipse(xs, ys, cx, cy, 0.6 * unit, 0.6 * unit), tint, WALL_DEPTH)
    box_row = horizon + (BOX_DEPTH - WALL_DEPTH) / (FLOOR_NEAR_DEPTH - WALL_DEPTH) * (
        height - horizon)
    for left, colour in ((0.06, (40, 90, 160)), (0.72, (170, 60, 50))):
        box = _coverage(np.maximum.reduce([left * width - xs, xs - (left + 0.16) * width,
                                           box_row - 14 * unit - ys, ys - box_row]))
        stripes = (np.sin(xs / unit * 2.0) > 0)[..., None] * 40.0
        _paint(rgb, depth, box, np.asarray(colour, np.float32) + stripes, BOX_DEPTH)
    cx = 0.5 * width
    body = np.maximum(_ellipse(xs, ys, cx, 0.62 * height, 9 * unit, 16 * unit),
                      _ellipse(xs, ys, cx, 0.27 * height, 5 * unit, 6 * unit))
    pattern = 120 + 80 * np.sign(np.sin(xs / unit * 3.0) * np.sin(ys / unit * 3.0))
    shirt = np.stack([pattern, 0.5 * pattern + 40, 0.3 * pattern + 90], -1)
    _paint(rgb, depth, body, shirt, SUBJECT_DEPTH)
    leaf = _ellipse(xs, ys, cx - 10 * unit, 0.85 * height, 4 * unit, 14 * unit, angle=0.4)
    veins = (np.sin((xs + ys) / unit * 2.5) > 0.7)[..., None] * 50.0
    _paint(rgb, depth, leaf, np.asarray((40, 140, 50), np.float32) + veins, LEAF_DEPTH)
    matte = (body * (1.0 - leaf)).astype(np.float32)
    noise = rng.normal(0.0, 4.0, rgb.shape).astype(np.float32)
    image = np.clip(rgb + noise, 0, 255)
    lights = rgb.min(axis=-1) > 215  # keep lights noise-free near 255
    image[lights] = rgb[lights]
    return np.rint(image).astype(np.uint8), depth, matte
