"""Regression guard: a small run of scripts/evaluate.py must keep quality above fixed floors.

Thresholds live in ``livebokeh.report.REGRESSION_THRESHOLDS`` (quoted in the README). Also
checks that the halo protocol and the naive baseline measure what they claim to, so a broken
measurement cannot make the guard pass.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import PEOPLE, REPO, need
from livebokeh.app.cli import main
from livebokeh.eval import baseline, report
from livebokeh.render.halo_free import blur_radius


def load_evaluate():
    spec = importlib.util.spec_from_file_location("evaluate", REPO / "scripts" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def evaluate():
    need(PEOPLE)
    return load_evaluate()


def test_photo_matte_iou_stays_above_the_floor(evaluate):
    floors = report.REGRESSION_THRESHOLDS["iou_min"]
    result = evaluate.matte_quality(PEOPLE, sorted(floors))
    for row in result["images"]:
        assert row["livebokeh_iou"] >= floors[row["image"]], row
        assert row["raw_iou"] > 0.5 and row["baseline_iou"] > 0.5  # the references ran


def test_halo_ratio_stays_below_the_ceiling(evaluate):
    (pair,) = evaluate.halo(PEOPLE, [report.REGRESSION_HALO_PAIR])["pairs"]
    assert pair["naive"] > 2.0  # the naive blur does leak subject colour into the ring
    assert pair["ratio"] <= report.REGRESSION_THRESHOLDS["halo_ratio_max"], pair


def test_halo_protocol_sees_no_error_without_a_subject():
    """Composite with alpha 0 everywhere in the ring: identical renders, zero error."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (120, 160, 3), np.uint8)
    alpha = np.zeros((120, 160), np.float32)
    alpha[40:80, 60:100] = 1.0
    errors = report.halo_errors(background, alpha, background)  # subject = background
    assert errors["livebokeh"] == pytest.approx(0.0, abs=1e-6)
    assert errors["naive"] == pytest.approx(0.0, abs=1e-6)
    ring = report.ring_mask(alpha)
    assert ring.any() and not ring[40:80, 60:100].any() and not ring[0, 0]


def test_person_free_background_avoids_the_person():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, :, 0] = np.arange(200, dtype=np.uint8)[None, :]  # red = column index
    alpha = np.zeros((100, 200), np.float32)
    alpha[:, 20:60] = 1.0  # person in columns 20..59; free band 60+margin..199
    crop = report.person_free_background(rgb, alpha, 50, 50)
    assert crop.shape == (50, 50, 3)
    assert crop[..., 0].min() >= 60 + report.PERSON_MARGIN // 2


def test_baseline_kernel_matches_livebokeh_sigma():
    for width, height in ((1280, 720), (1920, 1080), (640, 360)):
        k = baseline.kernel_size(30, width, height)
        opencv_sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8
        assert k % 2 == 1
        assert opencv_sigma == pytest.approx(blur_radius(30, width, height) / 2, abs=0.3)


def test_baseline_blurs_the_whole_frame_and_keeps_the_subject():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (90, 160, 3), np.uint8)
    mask = np.zeros((90, 160), np.float32)
    mask[20:70, 50:110] = 1.0
    out = baseline.blur_and_blend(rgb, mask, strength=60)
    assert np.array_equal(out[30:60, 60:100], rgb[30:60, 60:100])
    assert out[:, :30].std() < 0.3 * rgb[:, :30].std()


def test_bench_reports_the_baseline_in_the_same_run():
    result = CliRunner().invoke(main, ["bench", "--size", "320x180", "--frames", "3",
                                       "--warmup", "1", "--strength", "30", "--baseline",
                                       "--style", "gaussian", "--no-lfbw", "--json"])
    assert result.exit_code == 0, result.output
    bench = json.loads(result.stdout)
    assert [r["style"] for r in bench["runs"]] == ["gaussian", "baseline"]
    base = bench["runs"][1]
    assert set(base["stages"]) == {"decode", "segmentation", "matte", "render", "encode"}
    assert base["subject_share"] > 0.05
    (ratio,) = bench["baseline_ratios"]
    expected = bench["runs"][0]["total"]["median_ms"] / base["total"]["median_ms"]
    assert ratio["total"] == pytest.approx(expected, rel=0.01)
