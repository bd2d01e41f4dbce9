"""`livebokeh bench`: real pipeline runs on small frames; report structure and clean errors.

Speeds are not asserted here (the machine is shared); only that every figure is a real,
positive, finite time and that the report says what was run.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from clips import make_clip
from conftest import PORTRAIT
from livebokeh.app.bench import animated, matched_strength, source_frames
from livebokeh.app.cli import main
from livebokeh.eval.lfbw import effective_sigma
from livebokeh.render.halo_free import blur_radius
from livebokeh.settings import STYLES

STAGES = {"decode", "segmentation", "matte", "render", "encode"}


def bench(*args: str):
    return CliRunner().invoke(main, ["bench", *args])


def bench_json(*args: str) -> dict:
    result = bench(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def report() -> dict:
    return bench_json("--size", "320x180", "--frames", "5", "--warmup", "1", "--style",
                      "gaussian", "--strength", "15", "--strength", "30", "--strength", "60")


def runs_of(report: dict, style: str) -> list[dict]:
    return [r for r in report["runs"] if r["style"] == style]


def test_json_has_one_run_per_strength_with_every_stage(report):
    runs = runs_of(report, "gaussian")
    matched = [matched_strength(blur, 320, 180) for blur in (None, 21, 61)]
    assert [r["strength"] for r in runs] == [15.0, 30.0, 60.0, *matched]
    assert [r.get("matches") for r in runs] == [None, None, None, "lfbw-default", "lfbw-21",
                                                "lfbw-61"]
    for run in report["runs"]:
        assert (run["size"], run["width"], run["height"]) == ("320x180", 320, 180)
        assert set(run["stages"]) == STAGES
        for stats in [*run["stages"].values(), run["total"], run["process"]]:
            assert positive(stats["median_ms"]) and positive(stats["p95_ms"])
            assert stats["p95_ms"] >= stats["median_ms"]
        # total = per-frame sum of the stages: at least any stage, at most their p95s together
        assert max(s["median_ms"] for s in run["stages"].values()) <= run["total"]["median_ms"]
        assert run["total"]["median_ms"] <= sum(s["p95_ms"] for s in run["stages"].values())
        assert run["process"]["median_ms"] < run["total"]["median_ms"]
        assert run["total"]["fps"] == pytest.approx(1000 / run["total"]["median_ms"], rel=0.01)
        assert run["subject_share"] > 0.05  # the default frames show a person
        assert 50 < run["peak_rss_mb"] < 4096  # the models and frames, in MiB


def test_json_reports_flatness_against_strength_30(report):
    ratios = report["strength_ratios"]
    assert [(r["strength"], r["vs"]) for r in ratios] == [(15.0, 30.0), (60.0, 30.0)]
    for ratio in ratios:
        assert positive(ratio["total"]) and positive(ratio["render"])
    (flat,) = report["flatness"]
    assert (flat["style"], flat["vs"], flat["strengths"]) == ("gaussian", 30.0, [15, 30, 60])
    runs = runs_of(report, "gaussian")[:3]
    for name in ("render", "total"):
        values = [r["stages"]["render"]["median_ms"] if name == "render"
                  else r["total"]["median_ms"] for r in runs]
        assert flat[name]["max_vs_reference"] == pytest.approx(max(values) / values[1],
                                                               abs=1e-3)
        assert flat[name]["max_over_min"] == pytest.approx(max(values) / min(values), abs=1e-3)
        assert flat[name]["max_vs_reference"] >= 1.0


def test_json_compares_with_the_baseline_and_lfbw_at_the_same_sigma(report):
    (base,) = runs_of(report, "baseline")
    assert base["strength"] == 30.0 and base["comparison"] == "baseline"
    (ratio,) = report["baseline_ratios"]
    assert (ratio["style"], ratio["strength"]) == ("gaussian", 30.0)
    ours = runs_of(report, "gaussian")[1]
    assert ratio["total"] == pytest.approx(ours["total"]["median_ms"]
                                           / base["total"]["median_ms"], abs=1e-3)
    peers = {r["style"]: r for r in report["runs"] if r.get("comparison") == "lfbw"}
    assert set(peers) == {"lfbw-default", "lfbw-21", "lfbw-61"}
    assert peers["lfbw-default"]["effective_sigma"] == pytest.approx(5.2, abs=0.01)
    assert peers["lfbw-21"]["effective_sigma"] == pytest.approx(6.24, abs=0.01)
    assert peers["lfbw-61"]["effective_sigma"] == pytest.approx(17.8, abs=0.01)
    assert [r["lfbw"] for r in report["lfbw_ratios"]] == ["lfbw-default", "lfbw-21", "lfbw-61"]
    for entry in report["lfbw_ratios"]:
        peer = peers[entry["lfbw"]]
        assert entry["lfbw_ms"] == peer["process"]["median_ms"]
        assert entry["speedup"] == pytest.approx(entry["lfbw_ms"] / entry["livebokeh_ms"],
                                                 abs=1e-3)
        ours = next(r for r in report["runs"] if r.get("matches") == entry["lfbw"])
        per_frame = np.array(peer["process_ms"]) / np.array(ours["process_ms"])
        assert len(per_frame) == 5 and entry["paired_speedup"] == pytest.approx(
            np.median(per_frame), abs=1e-3)


def test_json_reports_settings_and_machine(report):
    assert report["settings"]["frames"] == 5 and report["settings"]["warmup"] == 1
    assert report["settings"]["source"] in ("portrait", "generated")
    machine = report["machine"]
    assert machine["cpus"] >= 1 and machine["versions"]["mediapipe"]


def test_matched_strength_gives_lfbw_sigma():
    for blur, (width, height) in [(None, (640, 360)), (21, (1280, 720)), (61, (1920, 1080))]:
        strength = matched_strength(blur, width, height)
        sigma = blur_radius(strength, width, height) / 2
        assert sigma == pytest.approx(effective_sigma(blur), rel=0.01)
    assert matched_strength(61, 320, 180) == 100.0  # livebokeh's largest blur is smaller


def test_table_lists_stages_runs_and_ratio():
    result = bench("--size", "160x96", "--size", "192x108", "--frames", "2", "--warmup", "0",
                   "--strength", "40", "--style", "gaussian", "--no-baseline", "--no-lfbw")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(name in lines[0] for name in [*STAGES, "total", "fps"])
    assert lines[1].split()[:3] == ["160x96", "gaussian", "40.0"]
    assert lines[2].split()[:3] == ["192x108", "gaussian", "40.0"]
    assert "median (p95)" in lines[-1]


def test_every_style_can_be_timed_by_default():
    report = bench_json("--size", "160x96", "--frames", "2", "--warmup", "0",
                        "--strength", "50", "--no-baseline", "--no-lfbw")
    assert [run["style"] for run in report["runs"]] == list(STYLES)
    for run in report["runs"]:
        assert set(run["stages"]) >= STAGES and positive(run["total"]["median_ms"])
    assert report["strength_ratios"] == [] and report["lfbw_ratios"] == []


def test_whole_video_times_livebokeh_against_the_lfbw_loop(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=6, size=(320, 180), audio=None)
    report = bench_json("--size", "160x96", "--frames", "1", "--warmup", "0", "--style",
                        "gaussian", "--strength", "30", "--no-baseline", "--lfbw", "21",
                        "--whole-video", str(clip), "--repeat", "1")
    (entry,) = report["whole_video"]
    assert (entry["size"], entry["frames"], entry["lfbw"]) == ("320x180", 6, "lfbw-21")
    assert positive(entry["livebokeh_s"]) and positive(entry["lfbw_s"])
    assert entry["speedup"] == pytest.approx(entry["lfbw_s"] / entry["livebokeh_s"], rel=0.01)


def test_bench_on_a_photo_and_a_video(tmp_path):
    photo = PORTRAIT
    report = bench_json("--input", str(photo), "--size", "192x144", "--frames", "3",
                        "--warmup", "0", "--strength", "30", "--style", "gaussian",
                        "--no-baseline", "--no-lfbw")
    assert report["settings"]["source"] == str(photo)
    assert report["runs"][0]["subject_share"] > 0.05
    clip = make_clip(tmp_path / "clip.mp4", frames=4, size=(320, 180), audio=None)
    report = bench_json("--input", str(clip), "--size", "256x144", "--frames", "6",
                        "--warmup", "0", "--strength", "30", "--style", "gaussian",
                        "--no-baseline", "--no-lfbw")
    assert set(report["runs"][0]["stages"]) == STAGES


def test_video_input_is_resized_and_a_photo_is_animated(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=4, size=(320, 180), audio=None)
    frames, source = source_frames(200, 120, 10, clip)
    assert source == str(clip) and len(frames) == 4
    assert all(f.shape == (120, 200, 3) and f.dtype == np.uint8 for f in frames)


def test_animated_pans_in_a_closed_loop():
    rgb = np.random.default_rng(1).integers(0, 256, (90, 160, 3), np.uint8)
    frames = animated(rgb, 8)
    assert np.array_equal(frames[0], rgb)  # phase 0: no shift, so the loop closes
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))


@pytest.mark.parametrize("size", ["abc", "1280x", "10x10", "1280x720x3", "0x0"])
def test_invalid_size_is_a_clean_error(size):
    result = bench("--size", size, "--frames", "1")
    assert result.exit_code == 2
    assert "--size" in result.stderr and "Traceback" not in result.output


def test_missing_input_is_a_clean_error(tmp_path):
    result = bench("--input", str(tmp_path / "nope.mp4"), "--frames", "1")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_unreadable_input_is_one_line(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    result = bench("--input", str(junk), "--size", "160x96", "--frames", "1")
    assert result.exit_code == 1
    assert result.stderr.startswith("livebokeh: error: ") and result.stderr.count("\n") == 1


def test_table_warns_when_no_person_is_found(tmp_path):
    from PIL import Image

    empty_room = tmp_path / "wall.png"
    Image.new("RGB", (320, 180), (180, 170, 150)).save(empty_room)
    result = bench("--input", str(empty_room), "--size", "160x96", "--frames", "2",
                   "--warmup", "0", "--strength", "30", "--style", "gaussian", "--no-baseline",
                   "--no-lfbw")
    assert result.exit_code == 0, result.output
    assert "no person found" in result.stdout
