"""The lens style through the real pipeline and CLI: depth model, depth maps, focus, outputs."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from clips import make_clip
from conftest import REPO, SHARED_MODELS, need
from livebokeh.io.images import read_image
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings

PORTRAIT = REPO / "assets" / "portrait.jpg"


def livebokeh(*args, env_models: bool = True):
    env = dict(__import__("os").environ)
    if env_models:
        env["LIVEBOKEH_MODEL_DIR"] = str(need(SHARED_MODELS))
    return subprocess.run([sys.executable, "-m", "livebokeh", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def test_photo_lens_writes_coc_and_depth(tmp_path):
    out, coc_path, depth_path = tmp_path / "o.jpg", tmp_path / "coc.npy", tmp_path / "d.png"
    proc = livebokeh("photo", PORTRAIT, "-o", out, "--style", "lens", "--strength", "60",
                     "--blades", "6", "--save-coc", coc_path, "--save-depth", depth_path)
    assert proc.returncode == 0, proc.stderr
    rgb, _ = read_image(PORTRAIT)
    coc = np.load(coc_path)
    depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
    assert coc.dtype == np.float32 and coc.shape == rgb.shape[:2]
    assert depth.dtype == np.uint16 and depth.shape == rgb.shape[:2]
    assert coc.max() > 5  # the room behind is blurred
    centre = coc[rgb.shape[0] // 2 - 20: rgb.shape[0] // 2 + 20, 620:660]
    assert np.abs(centre).mean() < 1.0  # the face is on the focal plane
    assert "no depth model" not in proc.stderr


def test_without_depth_model_says_so_once(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=8, size=(320, 180), audio=None)
    env = dict(__import__("os").environ, XDG_CACHE_HOME=str(tmp_path / "empty-cache"))
    env.pop("LIVEBOKEH_MODEL_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "livebokeh", "video", str(clip), "-o",
                           str(tmp_path / "o.mp4"), "--style", "lens"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("no depth model") == 1
    assert (tmp_path / "o.mp4").stat().st_size > 0


@pytest.mark.parametrize("kind", ["inverse", "depth"])
def test_depth_map_decides_what_is_sharp(tmp_path, kind):
    rng = np.random.default_rng(3)
    rgb = cv2.resize(rng.integers(0, 255, (60, 80, 3), np.uint8), (320, 240),
                     interpolation=cv2.INTER_NEAREST)
    inverse = np.full((240, 320), 0.2, np.float32)
    inverse[:, :160] = 0.9  # left half near, right half far
    values = inverse if kind == "inverse" else 1.0 / inverse
    np.save(tmp_path / "depth.npy", values)
    settings = BokehSettings(style="lens", strength=60, grain="off", focus="0.25,0.5",
                             matte=np.zeros((240, 320), np.uint8))
    from livebokeh.perception.depth import load_depth_map

    settings.depth_map = load_depth_map(tmp_path / "depth.npy", kind, (320, 240))
    with BokehProcessor(settings, video=False) as processor:
        out = processor.process(rgb).image.astype(int)
    change = np.abs(out - rgb.astype(int)).mean(axis=2)
    assert change[:, 20:140].mean() < 1.0  # focal plane: untouched
    assert change[:, 180:300].mean() > 20  # far half: blurred


def test_focus_modes_run_on_a_real_photo():
    rgb, _ = read_image(PORTRAIT)
    small = cv2.resize(rgb, (640, 426))
    for focus in ("auto", "face", "0.2,0.3", "depth:0.1"):
        settings = BokehSettings(style="lens", strength=50, focus=focus,
                                 depth_model=str(need(SHARED_MODELS) /
                                                 "tcmonodepth_tcsmallnet_192x320.onnx"))
        with BokehProcessor(settings, video=False) as processor:
            result = processor.process(small)
        assert result.coc.shape == small.shape[:2] and result.depth is not None
        face = np.abs(result.coc[150:250, 280:360]).mean()
        if focus in ("auto", "face"):
            assert face < 1.0, focus
        if focus == "depth:0.1":  # focused far behind: the face is blurred
            assert face > 3.0


def test_lens_video_keeps_frames(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=12, size=(320, 180))
    proc = livebokeh("video", clip, "-o", tmp_path / "o.mkv", "--style", "lens",
                     "--depth-every", "2")
    assert proc.returncode == 0, proc.stderr
    import av

    with av.open(str(tmp_path / "o.mkv")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12
