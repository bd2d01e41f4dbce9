"""The photo path end to end: real files of every supported kind, real model, real CLI."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import PORTRAIT, portrait_person
from livebokeh.app.cli import main
from livebokeh.io.images import read_image


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def person_jpg(tmp_path_factory):
    rgb, truth = portrait_person(0.5)
    path = tmp_path_factory.mktemp("in") / "person.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    return path, rgb, truth


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "bmp", "tiff"])
def test_formats_round_trip(tmp_path, person_jpg, ext):
    source, rgb, truth = person_jpg
    inp = tmp_path / f"in.{ext}"
    Image.fromarray(rgb).save(inp)
    out = tmp_path / f"out.{ext}"
    result = run_cli("photo", inp, "-o", out)
    assert result.exit_code == 0, result.output
    got, alpha = read_image(out)
    assert got.shape == rgb.shape and alpha is None
    diff = np.abs(got.astype(int) - rgb.astype(int)).mean(axis=2)
    kernel = np.ones((15, 15), np.uint8)
    inside = cv2.erode(truth.astype(np.uint8), kernel) > 0
    outside = cv2.dilate(truth.astype(np.uint8), kernel) == 0
    assert diff[outside].mean() > 3  # the background was blurred
    assert diff[inside].mean() < (1.0 if ext in ("png", "bmp", "tiff") else 3.5)  # not the person


def test_quality_option_changes_jpeg_size(tmp_path, person_jpg):
    source, _, _ = person_jpg
    sizes = []
    for q in (30, 95):
        out = tmp_path / f"q{q}.jpg"
        assert run_cli("photo", source, "-o", out, "--quality", q).exit_code == 0
        sizes.append(out.stat().st_size)
    assert sizes[0] < sizes[1] * 0.7


def test_exif_orientation_is_applied(tmp_path, person_jpg):
    _, rgb, _ = person_jpg
    inp = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to display
    Image.fromarray(np.ascontiguousarray(np.rot90(rgb, 1))).save(inp, exif=exif, quality=95)
    got, _ = read_image(inp)
    assert got.shape == rgb.shape
    assert np.abs(got.astype(int) - rgb.astype(int)).mean() < 4
    out = tmp_path / "out.png"
    assert run_cli("photo", inp, "-o", out).exit_code == 0
    assert read_image(out)[0].shape == rgb.shape


def test_greyscale_and_16_bit_inputs(tmp_path, person_jpg):
    _, rgb, _ = person_jpg
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    cv2.imwrite(str(tmp_path / "grey16.png"), grey.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "rgb16.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(
        np.uint16) * 257)
    for name in ("grey.png", "grey16.png", "rgb16.png"):
        got, alpha = read_image(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == rgb.shape and alpha is None
        expected = rgb if name == "rgb16.png" else np.repeat(grey[..., None], 3, 2)
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1, name
        assert run_cli("photo", tmp_path / name, "-o", tmp_path / f"o-{name}").exit_code == 0


@pytest.mark.parametrize("ext", ["png", "webp"])
def test_alpha_is_kept(tmp_path, person_jpg, ext):
    _, rgb, _ = person_jpg
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, : rgb.shape[1] // 2] = 255
    alpha[10:20] = 128
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "in.png")
    out = tmp_path / f"out.{ext}"
    assert run_cli("photo", tmp_path / "in.png", "-o", out).exit_code == 0
    _, got_alpha = read_image(out)
    assert np.array_equal(got_alpha, alpha)


def test_save_matte_is_person_shaped(tmp_path, person_jpg):
    source, rgb, truth = person_jpg
    matte_path = tmp_path / "matte.png"
    result = run_cli("photo", source, "-o", tmp_path / "o.jpg", "--save-matte", matte_path)
    assert result.exit_code == 0, result.output
    with Image.open(matte_path) as im:
        assert im.mode == "L" and im.size == (rgb.shape[1], rgb.shape[0])
        matte = np.asarray(im)
    assert matte[truth].mean() > 200 and matte[~truth].mean() < 40


def test_mask_forces_keep_and_blur(tmp_path, person_jpg):
    source, rgb, truth = person_jpg
    for value, expect_same in ((255, True), (0, False)):
        mask = tmp_path / f"mask{value}.png"
        Image.fromarray(np.full(rgb.shape[:2], value, np.uint8)).save(mask)
        out = tmp_path / f"o{value}.png"
        assert run_cli("photo", source, "-o", out, "--mask", mask, "--grain", "off",
                       "--save-matte", tmp_path / f"m{value}.png").exit_code == 0
        got, _ = read_image(out)
        diff = np.abs(got.astype(int) - read_image(source)[0].astype(int))
        if expect_same:
            assert diff.max() == 0
        else:
            assert diff[truth].mean() > 2  # the person itself was blurred


def test_given_matte_replaces_the_model(tmp_path, person_jpg):
    source, rgb, _ = person_jpg
    matte = np.zeros(rgb.shape[:2], np.uint8)
    matte[:, : rgb.shape[1] // 2] = 255
    Image.fromarray(matte).save(tmp_path / "matte.png")
    out = tmp_path / "o.png"
    assert run_cli("photo", source, "-o", out, "--matte", tmp_path / "matte.png",
                   "--grain", "off").exit_code == 0
    got = read_image(out)[0].astype(int)
    original = read_image(source)[0].astype(int)
    half = rgb.shape[1] // 2
    assert np.abs(got[:, : half - 4] - original[:, : half - 4]).max() == 0
    assert np.abs(got[:, half + 40:] - original[:, half + 40:]).mean() > 2


def _junk_files(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "random.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    good = PORTRAIT.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (tmp_path / "notes.txt").write_text("hello")


@pytest.mark.parametrize("args, fragment", [
    (["photo", "{t}/missing.jpg", "-o", "{t}/o.jpg"], "not found"),
    (["photo", "{t}/empty.jpg", "-o", "{t}/o.jpg"], "empty"),
    (["photo", "{t}/random.jpg", "-o", "{t}/o.jpg"], "cannot read"),
    (["photo", "{t}/truncated.jpg", "-o", "{t}/o.jpg"], "cannot read"),
    (["photo", "{t}/notes.txt", "-o", "{t}/o.jpg"], "unsupported image type"),
    (["photo", "{p}", "-o", "{t}/o.gif"], "unsupported output type"),
    (["photo", "{p}", "-o", "{t}/nofolder/o.jpg"], "folder does not exist"),
    (["photo", "{t}/existing.jpg", "-o", "{t}/existing.jpg"], "overwrite the input"),
    (["photo", "{p}", "-o", "{t}/o.jpg", "--blades", "4"], "blades"),
    (["photo", "{p}", "-o", "{t}/o.jpg", "--grain", "lots"], "grain"),
    (["photo", "{p}", "-o", "{t}/o.jpg", "--focus", "2,2"], "focus"),
])
def test_bad_input_is_one_clean_line(tmp_path, args, fragment):
    _junk_files(tmp_path)
    (tmp_path / "existing.jpg").write_bytes(PORTRAIT.read_bytes())
    argv = [a.format(t=tmp_path, p=PORTRAIT) for a in args]
    proc = subprocess.run([sys.executable, "-m", "livebokeh", *argv], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livebokeh: error:"), proc.stderr
    assert fragment in lines[0]
    assert not list(tmp_path.glob(".*partial*"))


def test_invalid_option_values_are_usage_errors(tmp_path):
    result = run_cli("photo", PORTRAIT, "-o", tmp_path / "o.jpg", "--strength", "150")
    assert result.exit_code == 2 and "strength" in result.output
    assert not (tmp_path / "o.jpg").exists()


def test_failed_run_leaves_existing_output_untouched(tmp_path):
    target = tmp_path / "o.jpg"
    target.write_bytes(b"precious")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
    result = run_cli("photo", tmp_path / "bad.jpg", "-o", target)
    assert result.exit_code != 0
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jpg", "o.jpg"]


def test_readme_command_is_quiet(tmp_path):
    """The README's main command: no MediaPipe/TFLite log lines, no exit-time traceback."""
    out = tmp_path / "portrait-bokeh.jpg"
    proc = subprocess.run([sys.executable, "-m", "livebokeh", "photo", str(PORTRAIT), "-o",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for noise in ("W0000", "I0000", "INFO: Created TensorFlow Lite", "Exception ignored",
                  "Traceback"):
        assert noise not in proc.stderr
    assert read_image(out)[0].shape == read_image(PORTRAIT)[0].shape
