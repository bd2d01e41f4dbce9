"""Crops of the tracked box: halving only the part of the frame the box reads is exact."""

import math

import cv2
import numpy as np
import pytest

from livebokeh.imgops import halve
from livebokeh.perception.regions import Box, crop


def whole_frame_crop(rgb: np.ndarray, box: Box, size: tuple[int, int]) -> np.ndarray:
    """The definition: halve the whole frame, then resample the box from it."""
    levels = max(0, math.floor(math.log2(max(box.width / size[0], box.height / size[1], 1.0))))
    scale = 2.0 ** levels
    matrix = box.to_grid(size) @ np.array([[scale, 0, 0.5 * scale - 0.5],
                                           [0, scale, 0.5 * scale - 0.5], [0, 0, 1]])
    return cv2.warpAffine(halve(rgb, levels), matrix, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080), (1921, 1079), (853, 481)])
def test_crop_equals_the_crop_of_the_whole_halved_frame(width, height):
    rng = np.random.default_rng(width)
    rgb = rng.integers(0, 256, (height, width, 3), np.uint8)
    rgb = cv2.GaussianBlur(rgb, (0, 0), 1.5)  # some structure for the bilinear taps
    for _ in range(40):
        side = rng.uniform(40, 1.6 * width)
        x0, y0 = rng.uniform(-0.4 * side, width - 0.6 * side), rng.uniform(-0.4 * side,
                                                                            height - 0.2 * side)
        box = Box(x0, y0, x0 + side, y0 + side * rng.choice([1.0, 144 / 256]))
        size = (256, 256) if box.height == box.width else (256, 144)
        assert np.array_equal(crop(rgb, box, size), whole_frame_crop(rgb, box, size)), box
