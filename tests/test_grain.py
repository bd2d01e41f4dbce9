"""Grain matching on real photos: noise estimate, grain restored in the blurred background."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import load_person
from livebokeh.errors import LivebokehError
from livebokeh.render import halo_free as render
from livebokeh.render.grain import (
    MAX_GRAIN_SIGMA,
    Grain,
    add_grain,
    estimate_noise,
    grain_sigma,
)
from livebokeh.settings import parse_grain

CLEAN_PHOTOS = (83, 53)  # people-masks photos whose subjects are smooth and nearly noise-free


def clean_person(index: int) -> tuple[np.ndarray, np.ndarray]:
    """A real photo at half size (halving averages its own noise away) and its matte 0..1."""
    rgb, mask = load_person(index)
    size = (rgb.shape[1] // 2, rgb.shape[0] // 2)
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    matte = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return rgb, matte


def with_noise(rgb: np.ndarray, sigma: float, seed: int, mono: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = rgb.shape[:2] + ((1,) if mono else (3,))
    noisy = rgb + rng.normal(0.0, sigma, shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("index", CLEAN_PHOTOS)
@pytest.mark.parametrize("sigma", [3.0, 6.0, 10.0])
def test_estimate_recovers_added_noise(index, sigma):
    rgb, matte = clean_person(index)
    assert estimate_noise(rgb, matte) < 1.5  # the clean photo itself
    for mono in (False, True):  # independent per channel, and the same in R, G, B
        estimate = estimate_noise(with_noise(rgb, sigma, seed=int(sigma), mono=mono), matte)
        assert estimate == pytest.approx(sigma, rel=0.25)


def test_estimate_without_a_subject_is_zero():
    rgb, matte = clean_person(CLEAN_PHOTOS[0])
    assert estimate_noise(rgb, np.zeros_like(matte)) == 0.0


def test_grain_restores_the_subject_noise_in_the_blurred_background():
    rgb, matte = clean_person(CLEAN_PHOTOS[0])
    noisy = with_noise(rgb, 6.0, seed=3)
    subject_sigma = estimate_noise(noisy, matte)
    out = np.empty_like(noisy)
    low = render.gaussian_background(noisy, matte, 12.0)
    render.composite(noisy, matte, low, out)
    background = 1.0 - matte  # the background region, measured with the same estimator
    assert estimate_noise(out, background) < 0.3 * subject_sigma  # blur wiped the noise
    grain = Grain(subject_sigma, np.random.default_rng(0))
    render.composite(noisy, matte, low, out, grain=grain)
    assert estimate_noise(out, background) == pytest.approx(subject_sigma, rel=0.2)


def test_grain_before_the_blend_is_grain_scaled_by_the_blend():
    """``Grain`` added to the blurred layer, then blended, equals ``add_grain`` by 1 - matte."""
    h, w = 180, 240
    sharp = np.full((h, w, 3), 90, np.uint8)
    matte = np.tile(np.linspace(0.0, 1.0, w, dtype=np.float32), (h, 1))
    low = np.full((h // 4, w // 4, 3), 150.0, np.float32)
    before = render.composite(sharp, matte, low, np.empty_like(sharp),
                              grain=Grain(6.0, np.random.default_rng(4)))
    after = render.composite(sharp, matte, low, np.empty_like(sharp))
    add_grain(after, 1.0 - matte, 6.0, np.random.default_rng(4))
    difference = before.astype(np.int16) - after
    assert np.abs(difference).max() <= 2 and np.abs(difference).mean() < 0.6
    assert np.all(before[:, -1] == 90)  # matte 1: no grain
    assert before[:, :w // 8].std() == pytest.approx(6.0, rel=0.1)  # matte ~0: all of it


def test_grain_is_zero_mean_scaled_by_blur_and_leaves_sharp_pixels():
    h, w = 240, 320
    frame = np.full((h, w, 3), 128, np.uint8)
    blur_amount = np.zeros((h, w), np.float32)
    blur_amount[:, w // 2:] = 1.0
    blur_amount[:, w // 4:w // 2] = 0.5
    add_grain(frame, blur_amount, 8.0, np.random.default_rng(1))
    grain = frame.astype(np.float32) - 128
    assert np.all(grain[:, :w // 4] == 0)
    assert np.all(grain[..., 0] == grain[..., 2])  # monochrome
    assert grain[:, w // 2:].std() == pytest.approx(8.0, rel=0.05)
    assert grain[:, w // 4:w // 2].std() == pytest.approx(4.0, rel=0.08)
    assert abs(grain[:, w // 2:].mean()) < 0.2


def test_grain_changes_every_frame_and_reuses_its_buffers():
    h, w = 120, 160
    work: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(2)
    ones = np.ones((h, w), np.float32)
    frames = []
    for _ in range(3):
        frame = np.full((h, w, 3), 100, np.uint8)
        frames.append(add_grain(frame, ones, 5.0, rng, work).copy())
        tile = work["grain_tile"]
    assert work["grain_tile"] is tile
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[1], frames[2])


def test_grain_off_changes_nothing():
    rgb, matte = clean_person(CLEAN_PHOTOS[1])
    out = rgb.copy()
    sigma = grain_sigma(parse_grain("off"), estimated=7.0)
    add_grain(out, 1.0 - matte, sigma, np.random.default_rng(0))
    assert sigma == 0.0 and np.array_equal(out, rgb)


def test_grain_option_mapping():
    assert grain_sigma(parse_grain("auto"), estimated=4.5) == 4.5
    assert grain_sigma(parse_grain("100"), estimated=4.5) == MAX_GRAIN_SIGMA
    assert grain_sigma(parse_grain(" 25 "), estimated=4.5) == pytest.approx(0.25 * MAX_GRAIN_SIGMA)
    assert grain_sigma(parse_grain("0"), estimated=4.5) == 0.0
    assert parse_grain("AUTO") == "auto" and parse_grain(40) == 40.0


@pytest.mark.parametrize("bad", ["-1", "100.5", "lots", "", "nan", "inf"])
def test_parse_grain_rejects_bad_values(bad):
    with pytest.raises(LivebokehError, match="grain must be 'auto', 'off' or a number 0..100"):
        parse_grain(bad)
