"""No halo: the subject's colours must not bleed into the blurred background.

Protocol (foundation issue): composite a real subject with its reference alpha over a real
background; run the photo path with that alpha as the matte; in the ring 3-30 px outside
the subject the output must match the same run on the background alone far more closely
than a naive blur-whole-frame-then-blend does (at most a third of its error).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import load_person, tennis_frames
from livebokeh.pipeline import blur_image
from livebokeh.render.halo_free import blur_radius


def composite_scene(index: int):
    """(composite, background, alpha) with a real person over a real video frame."""
    person, truth = load_person(index)
    h, w = person.shape[:2]
    background = cv2.resize(tennis_frames()[0], (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 1.0)
    mixed = alpha[..., None] * person + (1 - alpha[..., None]) * background
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8), background, alpha


def ring(alpha: np.ndarray, inner: int = 3, outer: int = 30) -> np.ndarray:
    """Pixels between ``inner`` and ``outer`` px outside the subject."""
    outside = (alpha < 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    return (distance >= inner) & (distance <= outer)


def naive(rgb: np.ndarray, alpha: np.ndarray, sigma: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32)
    a = alpha[..., None]
    return a * rgb + (1 - a) * blurred


@pytest.mark.parametrize("index, strength", [(12, 60), (55, 30), (90, 30), (90, 100), (3, 100)])
def test_ring_error_is_a_fraction_of_naive(index, strength):
    mixed, background, alpha = composite_scene(index)
    band = ring(alpha)
    matte = (alpha * 255).astype(np.uint8)
    ours = [blur_image(img, matte=matte, strength=strength, grain="off").astype(np.float32)
            for img in (mixed, background)]
    sigma = blur_radius(strength, mixed.shape[1], mixed.shape[0]) / 2
    theirs = [naive(img, alpha, sigma) for img in (mixed, background)]
    our_error = np.abs(ours[0] - ours[1])[band].mean()
    naive_error = np.abs(theirs[0] - theirs[1])[band].mean()
    assert naive_error > 1.5  # the naive method really does show a halo here
    assert our_error <= naive_error / 4, (our_error, naive_error)
