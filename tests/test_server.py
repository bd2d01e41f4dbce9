"""The live server over real HTTP on 127.0.0.1 (ephemeral port), fed by the real pipeline.

A clip made with PyAV from the tennis-vest frames is played as a camera (FileCameraSource,
looped at 25 fps) through the real ``LiveLoop`` with a ``LiveServer`` (what ``livebokeh cam
--serve --no-vcam`` runs), and every check reads what a viewer reads: multipart parts,
JSON replies, status codes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from clips import make_clip
from livebokeh.app.live import LiveLoop
from livebokeh.app.server import (
    JPEG_QUALITY,
    ControlServer,
    FrameHub,
    LiveControl,
    LiveServer,
    parse_address,
)
from livebokeh.errors import LivebokehError
from livebokeh.io.sources import FileCameraSource
from livebokeh.settings import BokehSettings

SIZE = (320, 180)
FPS = 25


class FedServer:
    """A ``LiveServer`` fed by the real ``LiveLoop`` playing ``clip`` as a camera, on a thread.

    ``frames`` holds every frame of the clip as decoded (the camera's possible inputs), to
    compare the streamed output with."""

    def __init__(self, clip: Path, settings: BokehSettings, token: str | None = None):
        self.frames = dict(enumerate(decoded_frames(clip)))
        self.web = LiveServer("127.0.0.1:0", settings, token)
        self.control, self.hub, self.server = self.web.control, self.web.hub, self.web.http
        self.source = FileCameraSource(clip, loop=True, fps=FPS)
        self.loop: LiveLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FedServer:
        self.web.start()
        self.source.open()
        self.loop = LiveLoop(self.source, [], self.control.settings, log=lambda line: None,
                             web=self.web)
        self._thread = threading.Thread(target=self.loop.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.loop.stop()
        self._thread.join(timeout=10)
        self.source.close()
        self.web.close()

    @property
    def processor(self):
        return self.loop.processor

    @property
    def url(self) -> str:
        return self.web.url


def decoded_frames(clip: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while (decoded := capture.read())[0]:
        frames.append(cv2.cvtColor(decoded[1], cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


@contextlib.contextmanager
def fed_server(tmp_path: Path, token: str | None = None, **settings):
    clip = make_clip(tmp_path / "cam.mp4", frames=12, size=SIZE, audio=None)
    with FedServer(clip, BokehSettings(**settings), token) as fed:
        yield fed


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    with fed_server(tmp_path_factory.mktemp("server"), strength=60, grain="off") as server:
        yield server


def stream_parts(url: str, count: int, skip: int = 0, **kwargs):
    """Read ``count`` parts (after skipping ``skip``) of a multipart stream: (headers, body)."""
    parts = []
    with requests.get(url, stream=True, timeout=20, **kwargs) as reply:
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        raw = reply.raw
        while len(parts) < count + skip:
            line = raw.readline()
            if not line.startswith(b"--"):
                continue
            headers = {}
            while (line := raw.readline().strip()):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = raw.read(int(headers["content-length"]))
            parts.append((headers, body))
    return parts[skip:]


def decode(body: bytes, flags=cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(body, np.uint8), flags)
    assert image is not None
    return image


def rgb_of(body: bytes) -> np.ndarray:
    return cv2.cvtColor(decode(body), cv2.COLOR_BGR2RGB)


def as_streamed(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` after the same JPEG round trip as the stream's frames."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return rgb_of(data.tobytes())


def distance_to_clip(image: np.ndarray, frames: dict[int, np.ndarray]) -> float:
    """Mean absolute difference to the closest clip frame as streamed (which frame is live
    is unknown): 0 when the output is the input frame untouched."""
    return min(float(np.abs(image.astype(np.float32) - as_streamed(f)).mean())
               for f in list(frames.values()))


def post(fed_or_url, changes, **kwargs) -> requests.Response:
    url = fed_or_url if isinstance(fed_or_url, str) else fed_or_url.url
    return requests.post(url + "api/settings", json=changes, timeout=10, **kwargs)


def test_mjpeg_stream_carries_the_live_output(fed):
    parts = stream_parts(fed.url + "stream.mjpg", 3)
    seqs = [int(headers["x-frame-seq"]) for headers, _ in parts]
    assert seqs == sorted(set(seqs))  # every part is a newer frame
    for headers, body in parts:
        assert headers["content-type"] == "image/jpeg"
        assert rgb_of(body).shape == (SIZE[1], SIZE[0], 3)
        assert abs(float(headers["x-frame-time"]) - time.time()) < 10


def test_settings_apply_on_the_next_frames(fed):
    assert post(fed, {"strength": 0}).json()["strength"] == 0
    sharp = rgb_of(stream_parts(fed.url + "stream.mjpg", 1, skip=2)[0][1])
    assert distance_to_clip(sharp, fed.frames) < 0.5  # strength 0: the input itself
    assert post(fed, {"strength": 80}).status_code == 200
    blurred = rgb_of(stream_parts(fed.url + "stream.mjpg", 1, skip=2)[0][1])
    assert distance_to_clip(blurred, fed.frames) > 5
    assert post(fed, {"enabled": False}).json()["enabled"] is False
    passed = rgb_of(stream_parts(fed.url + "stream.mjpg", 1, skip=2)[0][1])
    assert distance_to_clip(passed, fed.frames) < 0.5
    post(fed, {"enabled": True, "strength": 60})


def test_background_colour_reaches_the_stream(fed):
    assert post(fed, {"background": "#00c000"}).status_code == 200
    try:
        frame = rgb_of(stream_parts(fed.url + "stream.mjpg", 1, skip=2)[0][1])
    finally:
        post(fed, {"background": "blur"})
    corner = frame[:20, :20].reshape(-1, 3).mean(0)
    assert np.abs(corner - (0, 192, 0)).max() < 12


def test_overlay_stream_is_the_subject_with_alpha(fed):
    (headers, body), = stream_parts(fed.url + "overlay.stream", 1, skip=2)
    assert headers["content-type"] == "image/png"
    bgra = decode(body, cv2.IMREAD_UNCHANGED)
    assert bgra.shape == (SIZE[1], SIZE[0], 4)
    alpha = bgra[..., 3]
    assert (alpha == 0).mean() > 0.3  # background is see-through
    assert (alpha == 255).mean() > 0.02  # the player is opaque
    assert fed.hub.overlay_viewers == 0 or fed.hub.overlay_viewers == 1


def test_snapshot_and_pages(fed):
    snap = requests.get(fed.url + "frame.jpg", timeout=10)
    assert snap.headers["Content-Type"] == "image/jpeg"
    assert rgb_of(snap.content).shape == (SIZE[1], SIZE[0], 3)
    page = requests.get(fed.url, timeout=10)
    assert page.headers["Content-Type"].startswith("text/html") and 'id="preview"' in page.text
    assert "overlay.stream" in requests.get(fed.url + "overlay", timeout=10).text
    script = requests.get(fed.url + "static/app.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(fed.url + "static/../server.py", timeout=10).status_code == 404
    assert requests.get(fed.url + "static/nothing.js", timeout=10).status_code == 404


def test_bad_settings_are_refused_with_a_reason(fed):
    for changes, words in (({"strength": 500}, "strength"), ({"style": "wobbly"}, "style"),
                           ({"colour": 1}, "unknown"), ({"background": "#12"}, "#RRGGBB"),
                           ({"focus": "left"}, "focus")):
        reply = post(fed, changes)
        assert reply.status_code == 400 and words in reply.json()["error"]
    form = requests.post(fed.url + "api/settings", data="strength=0", timeout=10,
                         headers={"Content-Type": "text/plain"})
    assert form.status_code == 415  # a cross-site form cannot change settings
    assert requests.get(fed.url + "api/settings", timeout=10).json()["strength"] == 60


def test_focus_point_reaches_the_processor(fed):
    reply = post(fed, {"focus": "0.25,0.75"})
    assert reply.json()["focus"] == "0.25,0.75"
    deadline = time.time() + 5
    while fed.processor.settings.focus != "0.25,0.75" and time.time() < deadline:
        time.sleep(0.05)
    assert fed.processor.settings.focus == "0.25,0.75"
    post(fed, {"focus": "auto"})


def test_a_click_picks_the_person_kept_sharp(fed):
    for bad, words in (({"subject": "left"}, "subject"), ({"subject": [2, 0.5]}, "0..1"),
                       ({"people": "some"}, "people")):
        reply = post(fed, bad)
        assert reply.status_code == 400 and words in reply.json()["error"]
    reply = post(fed, {"people": "main", "subject": "0.4,0.6"})
    assert reply.json()["people"] == "main" and reply.json()["subject"] == [0.4, 0.6]
    deadline = time.time() + 5
    while fed.processor.finder.subject != (0.4, 0.6) and time.time() < deadline:
        time.sleep(0.05)
    assert (fed.processor.finder.people, fed.processor.finder.subject) == ("main", (0.4, 0.6))
    post(fed, {"people": "all", "subject": None})


def test_a_foreign_host_name_is_refused_without_a_token(fed):
    reply = requests.get(fed.url + "api/settings", headers={"Host": "evil.example"}, timeout=10)
    assert reply.status_code == 403


def test_token_is_required_on_every_request(fed):
    """A second server with a token on the same live frames (one camera per process)."""
    with ControlServer(fed.hub, fed.control, "127.0.0.1", 0, token="s3cret") as server:
        url = server.url
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url + "stream.mjpg", timeout=10).status_code == 401
        assert post(url, {"strength": 0}).status_code == 401
        assert requests.get(url + "api/settings?token=wrong", timeout=10).status_code == 401
        assert requests.get(url + "api/settings?token=s3cret", timeout=10).status_code == 200
        bearer = {"Authorization": "Bearer s3cret"}
        assert post(url, {"strength": 10}, headers=bearer).json()["strength"] == 10
        assert requests.get(url + "frame.jpg", headers={"X-Livebokeh-Token": "s3cret"},
                            timeout=10).status_code == 200
        parts = stream_parts(url + "stream.mjpg?token=s3cret", 1)
        assert rgb_of(parts[0][1]).shape == (SIZE[1], SIZE[0], 3)
    post(fed, {"strength": 60})


def test_other_addresses_need_a_token():
    with pytest.raises(LivebokehError, match="--token"):
        ControlServer(FrameHub(), LiveControl(BokehSettings()), "0.0.0.0", 8787)
    assert parse_address("127.0.0.1:8787") == ("127.0.0.1", 8787)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("8787", "localhost:", "host:99999", ":80"):
        with pytest.raises(LivebokehError):
            parse_address(bad)


def test_a_busy_port_is_a_one_line_error(fed):
    busy = ControlServer(FrameHub(), LiveControl(BokehSettings()), "127.0.0.1", fed.server.port)
    with pytest.raises(LivebokehError, match="cannot serve"):
        busy.start()
