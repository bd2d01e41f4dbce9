"""``livebokeh photo`` at its edges: unusual inputs, clashing paths, failures that write nothing.

Complements test_photo.py (formats, alpha, masks, the common bad inputs). Real files, the real
selfie model, the real command line.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms

from conftest import PORTRAIT, portrait_person
from livebokeh.app.cli import main
from livebokeh.io.images import read_grey, read_image

LIVEBOKEH = Path(sys.executable).parent / "livebokeh"  # the installed console script


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(result) -> str:
    """The single stderr line of a failed run (and proof there is no traceback)."""
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livebokeh: error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def person(tmp_path_factory):
    """The shipped portrait at half size as a lossless PNG, with its exact person mask."""
    rgb, truth = portrait_person(0.5)
    path = tmp_path_factory.mktemp("in") / "person.png"
    Image.fromarray(rgb).save(path)
    return path, rgb, truth


def _png_claiming_size(path: Path, width: int, height: int) -> None:
    """A valid-looking PNG whose header claims width x height pixels (no pixel data for it)."""
    buffer = BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    data = buffer.getvalue()
    ihdr = data[12:16] + struct.pack(">II", width, height) + data[24:29]
    path.write_bytes(data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:])


def test_truncated_png_and_folder_and_huge_image_are_clean_errors(tmp_path, person):
    source, _, _ = person
    data = source.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "folder.png").mkdir()
    _png_claiming_size(tmp_path / "huge.png", 20000, 20000)  # 400 MP: refused before decoding
    for name, fragment in (("cut.png", "truncated"), ("folder.png", "folder"),
                           ("huge.png", "too large")):
        line = error_line(run_cli("photo", tmp_path / name, "-o", tmp_path / "o.jpg"))
        assert fragment in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.png", "folder.png", "huge.png"]


def test_clashing_paths_are_refused_before_any_work(tmp_path, person):
    source, rgb, _ = person
    mask = tmp_path / "mask.png"
    Image.fromarray(np.full(rgb.shape[:2], 255, np.uint8)).save(mask)
    same = tmp_path / "same.png"
    cases = [
        (["-o", tmp_path / "o.png", "--save-matte", tmp_path / "o.png"], "two outputs"),
        (["-o", mask, "--mask", mask], "overwrite the input"),
        (["-o", tmp_path / "o.png", "--save-matte", mask, "--mask", mask], "overwrite the input"),
        (["-o", tmp_path / "o.png", "--save-matte", tmp_path / "m.jpg"], "PNG"),
        (["-o", tmp_path / "o.png", "--save-depth", tmp_path / "d.png"], "--style lens"),
        (["-o", same, "--save-matte", tmp_path / "." / "same.png"], "two outputs"),
        (["-o", mask, "--background", mask], "overwrite the input"),
        (["-o", tmp_path / "o.png", "--style", "motion", "--angle", "nan"], "finite"),
        (["-o", tmp_path / "o.png", "--style", "lens", "--blade-rotation", "inf"], "finite"),
    ]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for options, fragment in cases:
        assert fragment in error_line(run_cli("photo", source, *options)), options
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_output_names_are_checked_before_the_image_is_read(tmp_path):
    """A wrong --save-coc / --save-depth name is reported first, not after the work: the
    input here is not even an image."""
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    for option, name, fragment in (("--save-coc", "c.png", "--save-coc writes"),
                                   ("--save-depth", "d.jpg", "--save-depth writes")):
        result = run_cli("photo", broken, "-o", tmp_path / "o.png", "--style", "lens",
                         option, tmp_path / name)
        assert fragment in error_line(result)


def test_replacing_a_file_keeps_its_permissions_and_a_link_stays_a_link(tmp_path, person):
    """A private output stays private when written again; an output named through a
    symlink is written to the link's target, and the link remains."""
    source, _, _ = person
    private = tmp_path / "private.jpg"
    private.write_bytes(b"old")
    private.chmod(0o600)
    assert run_cli("photo", source, "-o", private).exit_code == 0
    assert private.stat().st_mode & 0o777 == 0o600 and private.read_bytes() != b"old"
    real, link = tmp_path / "real.jpg", tmp_path / "link.jpg"
    real.write_bytes(b"old")
    link.symlink_to(real)
    assert run_cli("photo", source, "-o", link).exit_code == 0
    assert link.is_symlink() and real.read_bytes()[:2] == b"\xff\xd8"  # a JPEG now


def test_input_reached_by_another_path_is_not_overwritten(tmp_path, person):
    source, _, _ = person
    original = tmp_path / "photo.png"
    original.write_bytes(source.read_bytes())
    (tmp_path / "link.png").symlink_to(original)
    for target in (tmp_path / "link.png", tmp_path / "sub" / ".." / "photo.png"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert "overwrite the input" in error_line(run_cli("photo", original, "-o", target))
    assert original.read_bytes() == source.read_bytes()


def test_failure_after_the_model_writes_nothing(tmp_path, person):
    """--save-depth with no depth available fails after processing: no output may appear."""
    source, _, _ = person
    out, matte = tmp_path / "o.png", tmp_path / "m.png"
    out.write_bytes(b"keep me")
    result = run_cli("photo", source, "-o", out, "--style", "lens", "--save-matte", matte,
                     "--save-depth", tmp_path / "d.png")
    assert "no depth" in error_line(result)
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


def test_outputs_get_normal_permissions(tmp_path, person):
    """Outputs are written through a private temp file, but must end up readable as usual."""
    source, _, _ = person
    out, matte = tmp_path / "o.jpg", tmp_path / "m.png"
    assert run_cli("photo", source, "-o", out, "--save-matte", matte).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    for path in (out, matte):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_rgb_icc_profile_is_carried_over_and_others_are_dropped(tmp_path, person):
    source, rgb, _ = person
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgb).save(tmp_path / "tagged.png", icc_profile=srgb)
    for ext in ("jpg", "png", "webp", "tiff"):
        out = tmp_path / f"o.{ext}"
        assert run_cli("photo", tmp_path / "tagged.png", "-o", out).exit_code == 0
        with Image.open(out) as im:
            assert im.info.get("icc_profile") == srgb, ext
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png", icc_profile=lab)
    assert run_cli("photo", tmp_path / "grey.png", "-o", tmp_path / "g.png").exit_code == 0
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "RGB" and "icc_profile" not in im.info


def test_palette_cmyk_and_16_bit_tiff_inputs(tmp_path, person):
    source, rgb, _ = person
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, : rgb.shape[1] // 3] = 255
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").quantize(64).save(tmp_path / "pal.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    bgr16 = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 256 + 200  # high byte = rgb
    cv2.imwrite(str(tmp_path / "rgb16.tif"), bgr16)
    cv2.imwrite(str(tmp_path / "grey16.tif"), bgr16[..., 1])

    pal_rgb, pal_alpha = read_image(tmp_path / "pal.png")
    assert pal_alpha is not None and np.array_equal(pal_alpha > 127, alpha > 127)
    cmyk_rgb, _ = read_image(tmp_path / "cmyk.jpg")
    assert np.abs(cmyk_rgb.astype(int) - rgb.astype(int)).mean() < 6
    assert np.array_equal(read_image(tmp_path / "rgb16.tif")[0], rgb)
    assert np.array_equal(read_image(tmp_path / "grey16.tif")[0][..., 0], rgb[..., 1])

    assert run_cli("photo", tmp_path / "pal.png", "-o", tmp_path / "pal-out.png").exit_code == 0
    assert np.array_equal(read_image(tmp_path / "pal-out.png")[1], pal_alpha)
    for name in ("cmyk.jpg", "rgb16.tif", "grey16.tif"):
        out = tmp_path / f"out-{name}.JPG"  # upper-case extensions work too
        assert run_cli("photo", tmp_path / name, "-o", out).exit_code == 0, name
        assert read_image(out)[0].shape == rgb.shape


def test_mask_and_matte_of_another_size_are_resized(tmp_path, person):
    source, rgb, _ = person
    h, w = rgb.shape[:2]
    small = np.zeros((h // 4, w // 4), np.uint8)
    small[:, : w // 8] = 255  # left half subject
    Image.fromarray(small).save(tmp_path / "small.png")
    grey = read_grey(tmp_path / "small.png", (w, h))
    assert grey.shape == (h, w) and grey.dtype == np.uint8
    assert grey[:, : w // 2 - 4].min() == 255 and grey[:, w // 2 + 4:].max() == 0
    out = tmp_path / "o.png"
    assert run_cli("photo", source, "-o", out, "--matte", tmp_path / "small.png",
                   "--grain", "off").exit_code == 0
    diff = np.abs(read_image(out)[0].astype(int) - rgb.astype(int)).mean(axis=2)
    assert diff[:, : w // 2 - 8].max() == 0 and diff[:, w // 2 + 40:].mean() > 2


def test_installed_command_rejects_bad_option_values(tmp_path):
    """The console script itself: click's usage error, exit 2, nothing written."""
    for option in (["--strength", "150"], ["--quality", "0"], ["--style", "fuzzy"]):
        proc = subprocess.run([str(LIVEBOKEH), "photo", str(PORTRAIT), "-o",
                               str(tmp_path / "o.jpg"), *option],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and option[0] in proc.stderr
    assert not list(tmp_path.iterdir())


def test_installed_command_blurs_the_demo_quietly(tmp_path):
    out = tmp_path / "portrait-bokeh.jpg"
    proc = subprocess.run([str(LIVEBOKEH), "photo", str(PORTRAIT), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for noise in ("W0000", "I0000", "INFO: Created TensorFlow Lite", "Exception ignored",
                  "Traceback"):
        assert noise not in proc.stderr
    original, blurred = read_image(PORTRAIT)[0], read_image(out)[0]
    assert blurred.shape == original.shape
    assert np.abs(blurred.astype(int) - original.astype(int)).mean() > 1
    assert [p.name for p in tmp_path.iterdir()] == ["portrait-bokeh.jpg"]
