"""Background modes: transparent cut-outs (PNG, WebM VP9 alpha, ProRes 4444) and replacement.

Halo tests use a synthetic composite with known alpha: the shipped portrait (the subject colour
F) over a flat old background, ``I = a*F + (1-a)*B_old``. The ideal replacement does not
depend on ``B_old`` at all, so rendering the same scene over a red and over a green old
background and differencing the outputs measures exactly how much old background leaks
through.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from clips import make_clip
from conftest import PORTRAIT, load_rgb, portrait_person
from livebokeh.app.cli import main
from livebokeh.app.photo import process_photo
from livebokeh.app.video import process_video
from livebokeh.errors import LivebokehError
from livebokeh.eval.synthetic import make_scene
from livebokeh.render.background import cover, cutout, replace_background
from livebokeh.settings import BackgroundSpec, BokehSettings, canonical_background, parse_background

NEW_BACKGROUND = (32, 96, 192)
OLD_RED, OLD_GREEN = (230, 20, 20), (20, 230, 20)


def soft_disc(height: int, width: int, edge_px: float = 6.0) -> np.ndarray:
    """Known alpha (float32 0..1): an ellipse with a soft edge ``edge_px`` wide."""
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 255, -1)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), edge_px / 2)
    alpha[alpha < 1e-3] = 0.0
    alpha[alpha > 1 - 1e-3] = 1.0
    return alpha


def composite_over(subject: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    old = np.empty_like(subject)
    old[...] = colour
    a = alpha[..., None]
    return np.round(subject * a + old * (1 - a)).astype(np.uint8)


@pytest.fixture(scope="module")
def scene():
    subject = cv2.resize(load_rgb(PORTRAIT), (480, 320), interpolation=cv2.INTER_AREA)
    alpha = soft_disc(320, 480)
    plate = np.empty_like(subject)
    plate[...] = NEW_BACKGROUND
    return subject, alpha, plate


def test_parse_background():
    assert parse_background("blur") == BackgroundSpec("blur")
    assert parse_background(" Transparent ") == BackgroundSpec("transparent")
    assert parse_background("#ff8000").colour == (255, 128, 0)
    image = PORTRAIT
    assert parse_background(str(image)).path == image
    assert canonical_background("BLUR") == "blur"
    for bad in ("#12345", "#gg0000", "no-such-file.png"):
        with pytest.raises(LivebokehError):
            parse_background(bad)


def test_cover_fills_the_frame_keeping_the_aspect_ratio():
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, 175:225] = 255  # a centred white bar: 2x wider after covering
    covered = cover(wide, 200, 200)
    assert covered.shape == (200, 200, 3)
    assert covered[:, 52:148].min() == 255 and covered[:, :45].max() == 0


def test_far_from_the_subject_is_the_new_background_and_the_subject_is_kept(scene):
    subject, alpha, plate = scene
    frame = composite_over(subject, alpha, OLD_RED)
    out = replace_background(frame, alpha, plate)
    assert np.array_equal(out[alpha == 0], plate[alpha == 0])
    deep_inside = cv2.erode((alpha == 1).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    diff = np.abs(out.astype(int) - frame)[deep_inside]
    assert diff.max() <= 1


def leak(frame_a: np.ndarray, frame_b: np.ndarray, where: np.ndarray) -> float:
    return float(np.abs(frame_a.astype(np.float32) - frame_b)[where].mean())


def test_no_old_background_leaks_into_the_edge(scene):
    """Soft edge (0 < alpha < 1): the output must not depend on the old background."""
    subject, alpha, plate = scene
    band = (alpha > 0.02) & (alpha < 0.98)
    outs, naive = [], []
    for old in (OLD_RED, OLD_GREEN):
        frame = composite_over(subject, alpha, old)
        outs.append(replace_background(frame, alpha, plate, light_wrap=0.0))
        a = alpha[..., None]
        naive.append(np.round(frame * a + plate * (1 - a)).astype(np.uint8))
    ours, plain = leak(*outs, band), leak(*naive, band)
    assert plain > 10  # the naive composite does carry the old background along
    assert ours < 0.2 * plain


def test_no_old_background_in_the_ring_when_the_matte_spills_over(scene):
    """A matte with a soft skirt beyond the subject (as segmentation gives) must not paint
    the old background there."""
    subject, alpha, plate = scene
    spilled = np.maximum(alpha, cv2.GaussianBlur(alpha, (0, 0), 10))
    ring = (alpha == 0) & (spilled > 0.05)
    assert ring.sum() > 1000
    outs = [replace_background(composite_over(subject, alpha, old), spilled, plate,
                               light_wrap=0.0) for old in (OLD_RED, OLD_GREEN)]
    naive = [np.round(composite_over(subject, alpha, old) * spilled[..., None]
                      + plate * (1 - spilled[..., None])).astype(np.uint8)
             for old in (OLD_RED, OLD_GREEN)]
    assert leak(*outs, ring) < 0.3 * leak(*naive, ring)


def test_light_wrap_tints_only_the_rim(scene):
    subject, alpha, plate = scene
    frame = composite_over(subject, alpha, OLD_RED)
    plain = replace_background(frame, alpha, plate, light_wrap=0.0).astype(np.float32)
    wrapped = replace_background(frame, alpha, plate, light_wrap=0.8).astype(np.float32)
    rim = (alpha > 0.5) & (alpha < 0.98)
    deep_inside = cv2.erode((alpha == 1).astype(np.uint8), np.ones((61, 61), np.uint8)) > 0
    toward_plate = (wrapped - plain) @ (np.float32(NEW_BACKGROUND) - plain.mean((0, 1)))
    assert toward_plate[rim].mean() > 0  # the rim moved towards the new background's colour
    assert np.abs(wrapped - plain)[deep_inside].max() <= 1
    assert np.array_equal(wrapped[alpha == 0], plain[alpha == 0])


def test_cutout_colour_is_decontaminated(scene):
    subject, alpha, _ = scene
    band = (alpha > 0.02) & (alpha < 0.98)
    colours = [cutout(composite_over(subject, alpha, old), alpha)[0]
               for old in (OLD_RED, OLD_GREEN)]
    raw = [composite_over(subject, alpha, old) for old in (OLD_RED, OLD_GREEN)]
    assert leak(*colours, band) < 0.25 * leak(*raw, band)


def test_transparent_png_alpha_equals_the_matte(tmp_path):
    rgb, _ = portrait_person(0.5)
    src = tmp_path / "in.png"
    Image.fromarray(rgb).save(src)
    out, matte_png = tmp_path / "cut.png", tmp_path / "matte.png"
    process_photo(src, out, BokehSettings(background="transparent"), save_matte=matte_png)
    written = np.asarray(Image.open(out))
    assert written.shape == rgb.shape[:2] + (4,)
    matte = np.asarray(Image.open(matte_png))
    assert np.array_equal(written[..., 3], matte)
    assert 0.05 < (matte > 127).mean() < 0.95  # a real person was found, not all or nothing


def test_replacement_photo_blurs_the_new_background_with_the_strength(tmp_path):
    rgb, _ = portrait_person(0.5)
    src = tmp_path / "in.png"
    Image.fromarray(rgb).save(src)
    plate_path = tmp_path / "plate.png"
    Image.fromarray(make_scene(400, 300)[0]).save(plate_path)  # a room unlike the portrait's
    matte = np.zeros(rgb.shape[:2], np.uint8)
    matte[rgb.shape[0] // 3:, rgb.shape[1] // 3: 2 * rgb.shape[1] // 3] = 255
    Image.fromarray(matte).save(tmp_path / "matte.png")
    outs = {}
    for strength in (0, 60):
        outs[strength] = tmp_path / f"out{strength}.png"
        process_photo(src, outs[strength], BokehSettings(background=str(plate_path),
                                                         strength=strength, grain="off"),
                      matte_path=tmp_path / "matte.png")
    sharp, blurred = (np.asarray(Image.open(outs[s])) for s in (0, 60))
    plate = cover(load_rgb(plate_path), rgb.shape[1], rgb.shape[0])
    far = np.zeros(matte.shape, bool)
    far[: rgb.shape[0] // 4, : rgb.shape[1] // 4] = True
    assert np.array_equal(sharp[far], plate[far])

    def detail(image):
        return cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_32F)[far].var()

    assert detail(blurred) < 0.3 * detail(sharp)


def test_transparent_needs_a_format_with_alpha(tmp_path):
    rgb, _ = portrait_person(0.5)
    src = tmp_path / "in.png"
    Image.fromarray(rgb).save(src)
    result = CliRunner().invoke(main, ["photo", str(src), "-o", str(tmp_path / "o.jpg"),
                                       "--background", "transparent"])
    assert result.exit_code == 1 and "needs a .png" in result.output
    result = CliRunner().invoke(main, ["photo", str(src), "-o", str(tmp_path / "o.jpg"),
                                       "--background", "#12"])
    assert result.exit_code == 1 and "#RRGGBB" in result.output
    assert "Traceback" not in result.output


def decode_alpha(path: Path, decoder: str | None) -> list[np.ndarray]:
    """Alpha planes of every frame. VP9 alpha lives in Matroska side data that only the
    libvpx-vp9 decoder reads (FFmpeg's native vp9 decoder drops it), so pick it by name."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if decoder is None:
            return [f.to_ndarray(format="rgba")[..., 3] for f in container.decode(stream)]
        codec = av.CodecContext.create(decoder, "r")
        codec.width, codec.height = stream.codec_context.width, stream.codec_context.height
        for packet in container.demux(stream):
            if packet.size:
                frames += [f.to_ndarray(format="rgba")[..., 3] for f in codec.decode(packet)]
        frames += [f.to_ndarray(format="rgba")[..., 3] for f in codec.decode(None)]
    return frames


@pytest.mark.parametrize(("suffix", "decoder", "tolerance"),
                         [(".webm", "libvpx-vp9", 4.0), (".mov", None, 1.0)])
def test_transparent_video_keeps_the_matte_as_alpha(tmp_path, suffix, decoder, tolerance):
    clip = make_clip(tmp_path / "clip.mp4", frames=4, size=(320, 180))
    matte = (soft_disc(180, 320, 4.0) * 255).astype(np.uint8)
    Image.fromarray(matte).save(tmp_path / "matte.png")
    out = tmp_path / f"cut{suffix}"
    process_video(clip, out, BokehSettings(background="transparent"),
                  matte_path=tmp_path / "matte.png")
    alphas = decode_alpha(out, decoder)
    assert len(alphas) == 4
    for alpha in alphas:
        assert np.abs(alpha.astype(np.float32) - matte).mean() < tolerance
    with av.open(str(out)) as container:
        assert container.streams.audio  # the clip's tone is kept


def test_transparent_video_into_mp4_is_refused(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, size=(320, 180), audio=None)
    with pytest.raises(LivebokehError, match=r"\.webm"):
        process_video(clip, tmp_path / "o.mp4", BokehSettings(background="transparent"))
    assert not (tmp_path / "o.mp4").exists()
