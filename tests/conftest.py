"""Shared fixtures: the real test data and models in ../shared (never copied into the repo).

``LIVEBOKEH_TESTDATA`` (default ``../shared/testdata`` beside the checkout) holds the real
photos and videos; the depth model is looked for in ``models/`` beside that folder. Tests that
need them skip with a one-line reason where they are absent, as in a user's fresh clone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam.util import encode_fourcc

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("LIVEBOKEH_TESTDATA", REPO.parent / "shared" / "testdata"))
PEOPLE = TESTDATA / "people-masks"
TENNIS = TESTDATA / "tennis-vest"
DAVIS = TESTDATA / "davis-people"
SHARED_MODELS = TESTDATA.parent / "models"
DEPTH_MODEL = SHARED_MODELS / "tcmonodepth_tcsmallnet_192x320.onnx"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test sees an empty user cache dir, so nothing leaks in from the developer's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("LIVEBOKEH_MODEL_DIR", raising=False)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data not found: {path} (set LIVEBOKEH_TESTDATA)")
    return path


def load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(need(path)), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def load_person(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Photo ``index`` of people-masks as RGB uint8 and its reference mask (bool, photo size)."""
    rgb = load_rgb(PEOPLE / "images" / f"{index}.jpg")
    mask = cv2.imread(str(need(PEOPLE / "masks" / f"{index}.png")), cv2.IMREAD_GRAYSCALE)
    if mask.shape != rgb.shape[:2]:
        mask = cv2.resize(mask, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    return rgb, mask > 127


def two_people_scene(size: tuple[int, int] = (960, 540), shift: int = 0) -> np.ndarray:
    """Two real people (people-masks 66 left, 100 right) over a real person-free background.

    ``shift`` moves both to the right by that many pixels (frames of a video).
    """
    from livebokeh.eval.report import composite_over, load_person, person_free_background

    back, back_alpha = load_person(need(PEOPLE), 86)
    scene = person_free_background(back, back_alpha, *size)
    for index, x0 in ((66, 80 + shift), (100, 560 + shift)):
        rgb, alpha = load_person(PEOPLE, index)
        ys, xs = np.nonzero(alpha > 0.5)
        crop = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        scale = 0.9 * size[1] / (ys.max() + 1 - ys.min())
        person = cv2.resize(rgb[crop], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        matte = cv2.resize(alpha[crop], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        width = min(person.shape[1], size[0] - x0)
        region = scene[size[1] - person.shape[0]:, x0:x0 + width]
        region[:] = composite_over(person[:, :width], matte[:, :width], region)
    return scene


LEFT_PERSON, RIGHT_PERSON = (0.14, 0.45, 0.26, 0.7), (0.63, 0.45, 0.7, 0.7)  # x0 y0 x1 y1


def two_people_photo(path: Path) -> Path:
    """``two_people_scene`` written as a PNG at ``path``."""
    cv2.imwrite(str(path), cv2.cvtColor(two_people_scene(), cv2.COLOR_RGB2BGR))
    return path


def tennis_frames() -> list[np.ndarray]:
    return [load_rgb(p) for p in sorted(need(TENNIS).glob("*.jpg"))]


class RecordingBackend:
    """A pyvirtualcam backend (its Backend protocol) that keeps what it is sent: stands in for
    the v4l2loopback / OBS device this machine does not have."""

    instances: list[RecordingBackend] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device, **kw):
        if fourcc != encode_fourcc(pyvirtualcam.PixelFormat.RGB.value):
            raise RuntimeError("recording backend only takes RGB")
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._device = device or "recording0"
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = False
        RecordingBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        assert not self.closed
        self.frames.append(frame.reshape(self.height, self.width, 3).copy())
        self.times.append(time.monotonic())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int:
        return self.fourcc


@pytest.fixture
def recording_backend():
    """Register the recording backend behind the real pyvirtualcam.Camera for one test."""
    RecordingBackend.instances = []
    pyvirtualcam.register_backend("recording", RecordingBackend)
    yield RecordingBackend
    pyvirtualcam.camera.BACKENDS.pop("recording", None)
