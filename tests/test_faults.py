"""The fault suite: every fault a user can meet, what livebokeh does about it, checked for real.

Each case below is one row of the README's fault table (``test_readme_lists_every_fault``
keeps the two equal). The faults are real wherever the machine allows: damaged files made by
overwriting bytes, a full disk (a small tmpfs filled up), a read-only file system (a tmpfs
remounted read-only), a file size limit (RLIMIT_FSIZE, which gives EFBIG), a forbidden folder
(mode 0555, with root's permission override dropped), a failing disk (fsync returning EIO
through a seccomp filter, as lost writes surface), signals sent to the real process, a local
HTTP server that answers 404 or drips, real sockets. Doubles stand only where the hardware is
missing (a pyvirtualcam backend for the virtual camera device). Disk faults that need root
(mounting) skip with their reason elsewhere.

What every case asserts: a clean result or exactly one ``livebokeh: error:`` line, never a
traceback; the exit code in the table; no partial or temp file; any existing output untouched.
"""

from __future__ import annotations

import contextlib
import errno
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam
import requests
from click.testing import CliRunner
from PIL import Image

import fault_exec
from clips import make_clip
from conftest import DEPTH_MODEL, PORTRAIT, REPO, RecordingBackend, need
from livebokeh.app.cli import main
from livebokeh.app.server import ControlServer, FrameHub, LiveControl
from livebokeh.io.sources import FileCameraSource
from livebokeh.models import REGISTRY
from livebokeh.settings import BokehSettings
from test_sinks import HAS_LOOPBACK

FAULT_EXEC = [sys.executable, str(Path(fault_exec.__file__))]
# An existing output: over the 512-byte file size limit of the EFBIG cases, and one whole
# memory page, so that appending to it (the batch manifest) needs a new block of the disk.
OLD = (b"the previous result\n" * 1000)[:os.sysconf("SC_PAGE_SIZE")]
DEPTH_FILE = REGISTRY["depth"].filename


# -- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    fault: str
    gets: str
    check: Callable[[Inputs, Path], None]


CASES: list[Case] = []


def case(id: str, area: str, fault: str, gets: str):
    def register(check):
        CASES.append(Case(id, area, fault, gets, check))
        return check
    return register


@dataclass
class Outcome:
    code: int
    stderr: str


def cli(*args, env: dict | None = None) -> Outcome:
    """``livebokeh ARGS`` in this process (the real click command)."""
    result = CliRunner(env=env).invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed: {result.exception!r}\n{result.output}")
    return Outcome(result.exit_code, result.stderr)


def child(*args, flags: tuple[str, ...] = (), env: dict | None = None,
          timeout: float = 120) -> Outcome:
    """``livebokeh ARGS`` as its own process, under the faults ``flags`` (tests/fault_exec.py)."""
    command = [*FAULT_EXEC, *flags, "--", sys.executable, "-m", "livebokeh", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return Outcome(done.returncode, done.stderr)


def error_line(outcome: Outcome, code: int = 1) -> str:
    """The single error line (informational notices may stand beside it), no traceback."""
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.code == code, outcome
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("livebokeh: error:")]
    assert len(errors) == 1, outcome.stderr
    return errors[0]


def usage_error(outcome: Outcome) -> str:
    """click's usage error: exit 2 and one ``Error:`` line naming the problem."""
    assert "Traceback" not in outcome.stderr and outcome.code == 2, outcome
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, outcome.stderr
    return errors[0]


def warning_line(outcome: Outcome) -> str:
    assert "Traceback" not in outcome.stderr and outcome.code == 0, outcome
    warnings = [line for line in outcome.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1, outcome.stderr
    return warnings[0]


def clean(outcome: Outcome) -> None:
    assert outcome.code == 0 and "Traceback" not in outcome.stderr, outcome
    assert "error:" not in outcome.stderr, outcome.stderr


def snapshot(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders for p in sorted(folder.rglob("*"))
            if p.is_file()}


# -- inputs shared by the cases --------------------------------------------------------------


@dataclass
class Inputs:
    folder: Path
    photo: Path  # the portrait at a quarter size, JPEG
    clip: Path  # 12 frames 160x96 with an AAC tone
    long_clip: Path  # 150 frames, for signals mid-run
    depth_map: Path  # a .npy depth map for --style lens without the depth model
    server: str  # a local HTTP server: /model (800 kB), /drip (slow), anything else 404


class Handler(http.server.BaseHTTPRequestHandler):
    body = np.random.default_rng(0).bytes(800_000)  # not the model: its sha256 does not match

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path not in ("/model", "/drip"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            for start in range(0, len(self.body), 8192):
                self.wfile.write(self.body[start:start + 8192])
                if self.path == "/drip":
                    time.sleep(0.1)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    folder = tmp_path_factory.mktemp("fault-inputs")
    photo = folder / "photo.jpg"
    rgb = cv2.imread(str(PORTRAIT))
    cv2.imwrite(str(photo), cv2.resize(rgb, (320, 213), interpolation=cv2.INTER_AREA))
    depth = np.tile(np.linspace(0, 1, 320, dtype=np.float32), (213, 1))
    np.save(folder / "depth.npy", depth)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Inputs(folder, photo,
                 make_clip(folder / "clip.mp4", frames=12, fps=25, size=(160, 96)),
                 make_clip(folder / "long.mp4", frames=150, fps=25, size=(320, 180)),
                 folder / "depth.npy", f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


def overwrite(source: Path, target: Path, spans) -> Path:
    data = bytearray(source.read_bytes())
    rng = np.random.default_rng(1)
    for start, size in spans:
        data[start:start + size] = rng.bytes(size)
    target.write_bytes(bytes(data))
    return target


# -- photos ----------------------------------------------------------------------------------


@case("photo-missing", "photos", "input file does not exist", "error, exit 1")
def _(inp, tmp):
    assert "input not found" in error_line(cli("photo", tmp / "no.jpg", "-o", tmp / "o.jpg"))


@case("photo-empty", "photos", "input is 0 bytes", "error, exit 1")
def _(inp, tmp):
    (tmp / "e.jpg").write_bytes(b"")
    assert "empty" in error_line(cli("photo", tmp / "e.jpg", "-o", tmp / "o.jpg"))


@case("photo-folder", "photos", "input is a folder", "error, exit 1")
def _(inp, tmp):
    (tmp / "d.jpg").mkdir()
    assert "folder" in error_line(cli("photo", tmp / "d.jpg", "-o", tmp / "o.jpg"))


@case("photo-not-an-image", "photos", "text file named .jpg", "error, exit 1")
def _(inp, tmp):
    (tmp / "t.jpg").write_text("not a picture\n")
    assert "cannot read image" in error_line(cli("photo", tmp / "t.jpg", "-o", tmp / "o.jpg"))


@case("photo-cut-off", "photos", "JPEG cut off half way", "error, exit 1, no output")
def _(inp, tmp):
    data = inp.photo.read_bytes()
    (tmp / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert "truncated" in error_line(cli("photo", tmp / "cut.jpg", "-o", tmp / "o.jpg"))
    assert not (tmp / "o.jpg").exists()


@case("photo-damaged-middle", "photos", "4 kB of random bytes in the middle of a JPEG",
      "blurred output of what decodes, or error; exit 0 or 1")
def _(inp, tmp):
    size = inp.photo.stat().st_size
    damaged = overwrite(inp.photo, tmp / "bad.jpg", [(size // 2, 4096)])
    outcome = cli("photo", damaged, "-o", tmp / "o.png")
    if outcome.code == 0:
        clean(outcome)
        assert cv2.imread(str(tmp / "o.png")).shape == (213, 320, 3)
    else:
        error_line(outcome)


@case("photo-huge-header", "photos", "PNG whose header claims 20000x20000 pixels",
      "error before decoding, exit 1")
def _(inp, tmp):
    buffer = tmp / "small.png"
    Image.new("RGB", (8, 8)).save(buffer)
    data = buffer.read_bytes()
    import struct
    import zlib
    ihdr = data[12:16] + struct.pack(">II", 20000, 20000) + data[24:29]
    (tmp / "huge.png").write_bytes(data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr))
                                   + data[33:])
    assert "too large" in error_line(cli("photo", tmp / "huge.png", "-o", tmp / "o.png"))


@case("photo-one-pixel", "photos", "1x1 pixel photo", "output 1x1, exit 0")
def _(inp, tmp):
    Image.new("RGB", (1, 1), (200, 100, 50)).save(tmp / "one.png")
    clean(cli("photo", tmp / "one.png", "-o", tmp / "o.png"))
    assert Image.open(tmp / "o.png").size == (1, 1)


@case("photo-unknown-output-type", "photos", "-o out.gif", "error before any work, exit 1")
def _(inp, tmp):
    assert "unsupported output type" in error_line(cli("photo", inp.photo, "-o", tmp / "o.gif"))


@case("photo-output-is-input", "photos", "-o names the input", "error, input untouched, exit 1")
def _(inp, tmp):
    source = tmp / "in.jpg"
    source.write_bytes(inp.photo.read_bytes())
    assert "overwrite the input" in error_line(cli("photo", source, "-o", source))
    assert source.read_bytes() == inp.photo.read_bytes()


@case("photo-no-output-folder", "photos", "-o into a folder that does not exist",
      "error, exit 1")
def _(inp, tmp):
    error = error_line(cli("photo", inp.photo, "-o", tmp / "nowhere" / "o.jpg"))
    assert "does not exist" in error


@case("photo-mask-not-an-image", "photos", "--mask is a text file", "error, exit 1")
def _(inp, tmp):
    (tmp / "mask.png").write_text("white\n")
    error = error_line(cli("photo", inp.photo, "-o", tmp / "o.jpg", "--mask", tmp / "mask.png"))
    assert "cannot read image" in error and not (tmp / "o.jpg").exists()


@case("photo-depth-map-garbage", "photos", "--depth-map .npy holding random bytes",
      "error, exit 1")
def _(inp, tmp):
    (tmp / "d.npy").write_bytes(np.random.default_rng(2).bytes(4000))
    error = error_line(cli("photo", inp.photo, "-o", tmp / "o.jpg", "--style", "lens",
                           "--depth-map", tmp / "d.npy"))
    assert "depth map" in error


# -- videos ----------------------------------------------------------------------------------


@case("video-missing", "videos", "input file does not exist", "error, exit 1")
def _(inp, tmp):
    assert "input not found" in error_line(cli("video", tmp / "no.mp4", "-o", tmp / "o.mp4"))


@case("video-empty", "videos", "input is 0 bytes", "error, exit 1")
def _(inp, tmp):
    (tmp / "e.mp4").write_bytes(b"")
    assert "empty" in error_line(cli("video", tmp / "e.mp4", "-o", tmp / "o.mp4"))


@case("video-not-a-video", "videos", "text file named .mp4", "error, exit 1")
def _(inp, tmp):
    (tmp / "t.mp4").write_text("not a video\n")
    assert "cannot read video" in error_line(cli("video", tmp / "t.mp4", "-o", tmp / "o.mp4"))


@case("video-photo-as-video", "videos", "a JPEG given to video", "one-frame video, exit 0")
def _(inp, tmp):
    clean(cli("video", inp.photo, "-o", tmp / "o.mp4"))
    assert cv2.VideoCapture(str(tmp / "o.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 1


@case("video-damaged-middle", "videos", "20 % of the file overwritten in the middle",
      "every decodable frame kept with its time; warning with counts, exit 0")
def _(inp, tmp):
    size = inp.long_clip.stat().st_size
    damaged = overwrite(inp.long_clip, tmp / "bad.mp4", [(size * 2 // 5, size // 5)])
    line = warning_line(cli("video", damaged, "-o", tmp / "o.mp4"))
    assert re.search(r"\d+ of 150 frames lost", line) and "damaged video packets" in line


@case("video-cut-off", "videos", "MP4 cut off at 60 %", "frames up to the cut, warning, exit 0")
def _(inp, tmp):
    out = tmp / "fast.mp4"  # faststart: the index is at the front, as phones write it
    clean(cli("video", inp.clip, "-o", out, "--strength", "0"))
    data = out.read_bytes()
    (tmp / "cut.mp4").write_bytes(data[: len(data) * 6 // 10])
    assert "cut off" in warning_line(cli("video", tmp / "cut.mp4", "-o", tmp / "o.mp4"))


@case("video-undecodable-start", "videos", "the key frame at the start overwritten",
      "error, no output, exit 1")
def _(inp, tmp):
    import av

    with av.open(str(inp.clip)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        span = (first.pos, first.size)
    damaged = overwrite(inp.clip, tmp / "bad.mp4", [span])
    assert "no decodable video frame" in error_line(cli("video", damaged, "-o", tmp / "o.mp4"))
    assert not (tmp / "o.mp4").exists()


@case("video-damaged-audio", "videos", "three audio packets overwritten",
      "all frames kept, silent gaps, warning, exit 0")
def _(inp, tmp):
    import av

    with av.open(str(inp.clip)) as container:
        spans = [(p.pos, p.size) for p in container.demux(audio=0) if p.size][5:8]
    damaged = overwrite(inp.clip, tmp / "bad.mp4", spans)
    line = warning_line(cli("video", damaged, "-o", tmp / "o.mkv"))
    assert "3 damaged audio packets" in line and "frames lost" not in line


@case("video-audio-only", "videos", "an audio file", "error, exit 1")
def _(inp, tmp):
    import av

    with av.open(str(inp.clip)) as source, av.open(str(tmp / "a.m4a"), "w") as out:
        stream = out.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(audio=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    assert "no video stream" in error_line(cli("video", tmp / "a.m4a", "-o", tmp / "o.mp4"))


@case("video-unknown-output-type", "videos", "-o out.avi", "error before any work, exit 1")
def _(inp, tmp):
    assert "unsupported video output" in error_line(cli("video", inp.clip, "-o", tmp / "o.avi"))


@case("video-matte-is-output", "videos", "--save-matte names the -o file", "error, exit 1")
def _(inp, tmp):
    out = tmp / "o.mp4"
    assert "same file" in error_line(cli("video", inp.clip, "-o", out, "--save-matte", out))


# -- models ----------------------------------------------------------------------------------


def cache_models(env_home: Path) -> Path:
    return env_home / "livebokeh" / "models"


@case("models-fetch-unreachable", "models", "download server refuses the connection",
      "error, nothing saved, exit 1")
def _(inp, tmp):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    env = {"XDG_CACHE_HOME": str(tmp)}
    error = error_line(cli("models", "fetch", "--url", f"http://127.0.0.1:{port}/m", env=env))
    assert "could not connect" in error and not list(tmp.rglob("*.onnx"))


@case("models-fetch-404", "models", "download server answers 404", "error, exit 1")
def _(inp, tmp):
    env = {"XDG_CACHE_HOME": str(tmp)}
    error = error_line(cli("models", "fetch", "--url", f"{inp.server}/missing", env=env))
    assert "HTTP 404" in error


@case("models-fetch-wrong-file", "models", "download is not the pinned file (sha256)",
      "error, old cache file untouched, exit 1")
def _(inp, tmp):
    folder = cache_models(tmp)
    folder.mkdir(parents=True)
    (folder / DEPTH_FILE).write_bytes(OLD)
    before = snapshot(tmp)
    error = error_line(cli("models", "fetch", "--url", f"{inp.server}/model",
                           env={"XDG_CACHE_HOME": str(tmp)}))
    assert "sha256 mismatch" in error and snapshot(tmp) == before


@case("models-fetch-not-http", "models", "--url file:///etc/passwd", "error, exit 1")
def _(inp, tmp):
    assert "http(s)" in error_line(cli("models", "fetch", "--url", "file:///etc/passwd"))


@case("models-corrupt-selfie", "models", "a corrupt selfie model in LIVEBOKEH_MODEL_DIR",
      "error naming the file, exit 1")
def _(inp, tmp):
    (tmp / REGISTRY["selfie"].filename).write_bytes(b"not a model")
    error = error_line(cli("photo", inp.photo, "-o", tmp / "o.jpg",
                           env={"LIVEBOKEH_MODEL_DIR": str(tmp)}))
    assert "corrupt" in error and not (tmp / "o.jpg").exists()


@case("models-depth-not-onnx", "models", "--depth-model is not an ONNX file", "error, exit 1")
def _(inp, tmp):
    (tmp / "m.onnx").write_bytes(b"nope")
    error = error_line(cli("photo", inp.photo, "-o", tmp / "o.jpg", "--style", "lens",
                           "--depth-model", tmp / "m.onnx"))
    assert "cannot load depth model" in error


# -- camera ----------------------------------------------------------------------------------


@case("camera-missing-device", "camera", "--camera /dev/video99 (no such device)",
      "error with the devices found, exit 2")
def _(inp, tmp):
    assert "no camera at /dev/video99" in error_line(
        cli("cam", "--camera", "/dev/video99", "--no-vcam"), code=2)


@case("camera-missing-file", "camera", "--camera FILE that does not exist", "error, exit 1")
def _(inp, tmp):
    assert "no camera or video file" in error_line(
        cli("cam", "--camera", tmp / "none.mp4", "--no-vcam"))


@case("camera-not-a-video", "camera", "--camera FILE that is text", "error, exit 1")
def _(inp, tmp):
    (tmp / "t.mp4").write_text("no\n")
    assert "cannot decode" in error_line(cli("cam", "--camera", tmp / "t.mp4", "--no-vcam"))


@case("camera-damaged-file", "camera", "--camera FILE --loop with damaged bytes",
      "keeps streaming, exit 0")
def _(inp, tmp):
    size = inp.long_clip.stat().st_size
    damaged = overwrite(inp.long_clip, tmp / "bad.mp4", [(size // 2, size // 10)])
    clean(cli("cam", "--camera", damaged, "--loop", "--no-vcam", "--frames", "20", "--fps",
              "100", "--json-summary", tmp / "s.json"))
    assert json.loads((tmp / "s.json").read_text())["frames"] == 20


@case("camera-unplugged", "camera", "the camera (a file) goes away, then comes back",
      "reports it, reconnects, frames resume")
def _(inp, tmp):
    path, away = tmp / "cam.mp4", tmp / "away.mp4"
    path.write_bytes(inp.clip.read_bytes())
    with FileCameraSource(path, loop=True, fps=100, reconnect_s=0.05) as source:
        assert source.read(1.0) is not None
        path.rename(away)
        deadline = time.monotonic() + 10
        while source.connected and time.monotonic() < deadline:
            source.read(0.05)
        assert not source.connected
        away.rename(path)
        while not source.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert source.connected and source.read(1.0) is not None and source.reconnects == 1


@case("camera-bad-size", "camera", "--size 8x8", "usage error, exit 2")
def _(inp, tmp):
    assert "16..8192" in usage_error(cli("cam", "--camera", inp.clip, "--size", "8x8"))


@case("camera-transparent", "camera", "--background transparent for a camera",
      "error, exit 1")
def _(inp, tmp):
    assert "a camera stream has none" in error_line(
        cli("cam", "--camera", inp.clip, "--no-vcam", "--background", "transparent"))


# -- virtual camera --------------------------------------------------------------------------


class BusyBackend(RecordingBackend):
    def __init__(self, **kw):
        raise RuntimeError("device /dev/video10 is busy")


class FailingBackend(RecordingBackend):
    def send(self, frame):
        if len(self.frames) >= 3:
            raise RuntimeError("writing frame failed: No such device")
        super().send(frame)


@contextlib.contextmanager
def backend(name: str, cls):
    """A pyvirtualcam backend for one case (registered backends are tried by default)."""
    pyvirtualcam.register_backend(name, cls)
    try:
        yield
    finally:
        pyvirtualcam.camera.BACKENDS.pop(name, None)


@case("vcam-no-device", "virtual camera", "no v4l2loopback device (Linux)",
      "error with the set-up commands, exit 2")
def _(inp, tmp):
    if not sys.platform.startswith("linux") or HAS_LOOPBACK:
        pytest.skip("needs Linux without a v4l2loopback device")
    assert "sudo modprobe v4l2loopback" in error_line(cli("cam", "--camera", inp.clip), code=2)


@case("vcam-unknown-backend", "virtual camera", "--vcam-backend that does not exist",
      "error listing the backends, exit 2")
def _(inp, tmp):
    assert "available:" in error_line(
        cli("cam", "--camera", inp.clip, "--vcam-backend", "nope"), code=2)


@case("vcam-busy", "virtual camera", "the device refuses to open (busy)", "error, exit 2")
def _(inp, tmp):
    with backend("busy", BusyBackend):
        outcome = cli("cam", "--camera", inp.clip, "--vcam-backend", "busy")
    assert "is busy" in error_line(outcome, code=2)


@case("vcam-fails-mid-stream", "virtual camera", "the device fails after 3 frames",
      "error naming the device, exit 2")
def _(inp, tmp):
    with backend("failing", FailingBackend):
        outcome = cli("cam", "--camera", inp.clip, "--loop", "--vcam-backend", "failing")
    assert "stopped taking frames" in error_line(outcome, code=2)


# -- config ----------------------------------------------------------------------------------


def config(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@case("config-missing", "config", "--config FILE that does not exist", "usage error, exit 2")
def _(inp, tmp):
    usage_error(cli("photo", inp.photo, "-o", tmp / "o.jpg", "--config", tmp / "none.toml"))


@case("config-not-toml", "config", "TOML syntax error", "usage error with line, exit 2")
def _(inp, tmp):
    path = config(tmp, "c.toml", "strength = = 3\n")
    assert "not valid TOML" in usage_error(cli("photo", inp.photo, "-o", tmp / "o.jpg",
                                               "--config", path))


@case("config-binary", "config", "a binary file as config", "usage error, exit 2")
def _(inp, tmp):
    usage_error(cli("photo", inp.photo, "-o", tmp / "o.jpg", "--config", inp.photo))


@case("config-unknown-key", "config", "a key that is no option", "usage error naming it, exit 2")
def _(inp, tmp):
    path = config(tmp, "c.toml", "frobnicate = 3\n")
    assert "frobnicate" in usage_error(cli("photo", inp.photo, "-o", tmp / "o.jpg",
                                           "--config", path))


@case("config-bad-value", "config", 'strength = "high"', "usage error, exit 2")
def _(inp, tmp):
    path = config(tmp, "c.toml", 'strength = "high"\n')
    assert "strength" in usage_error(cli("photo", inp.photo, "-o", tmp / "o.jpg",
                                         "--config", path))


@case("config-json-not-a-table", "config", "JSON config holding a list", "usage error, exit 2")
def _(inp, tmp):
    path = config(tmp, "c.json", "[1, 2]")
    usage_error(cli("photo", inp.photo, "-o", tmp / "o.jpg", "--config", path))


# -- control server --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def control(inputs):
    hub = FrameHub()
    with ControlServer(hub, LiveControl(BokehSettings()), "127.0.0.1", 0) as server, \
            ControlServer(hub, LiveControl(BokehSettings()), "127.0.0.1", 0,
                          token="s3cret") as guarded:
        frame = cv2.cvtColor(cv2.imread(str(inputs.photo)), cv2.COLOR_BGR2RGB)
        stop = threading.Event()

        def feed():
            while not stop.wait(0.04):
                hub.publish(frame)

        threading.Thread(target=feed, daemon=True).start()
        yield server, guarded
        stop.set()


def still_serving(server) -> bool:
    return requests.get(server.url + "api/settings", timeout=10).status_code == 200


def post(url: str, **kwargs) -> requests.Response:
    return requests.post(url + "api/settings", timeout=10, **kwargs)


@case("server-bad-address", "control server", "--serve localhost:notaport", "error, exit 1")
def _(inp, tmp):
    assert "HOST:PORT" in error_line(cli("cam", "--camera", inp.clip, "--no-vcam", "--serve",
                                         "localhost:notaport"))


@case("server-port-busy", "control server", "--serve on a port in use", "error, exit 1")
def _(inp, tmp):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        error = error_line(cli("cam", "--camera", inp.clip, "--no-vcam", "--serve", address))
    assert "address already in use" in error


@case("server-public-without-token", "control server", "--serve 0.0.0.0 without --token",
      "error, exit 1")
def _(inp, tmp):
    assert "--token" in error_line(cli("cam", "--camera", inp.clip, "--no-vcam", "--serve",
                                       "0.0.0.0:0"))


@case("server-wrong-token", "control server", "request with a wrong token", "HTTP 401")
def _(inp, tmp, control):
    _, guarded = control
    assert requests.get(guarded.url + "api/settings?token=wrong", timeout=10).status_code == 401
    assert post(guarded.url, json={"strength": 1}).status_code == 401


@case("server-foreign-host", "control server", "Host header of another site (DNS rebinding)",
      "HTTP 403")
def _(inp, tmp, control):
    server, _ = control
    reply = requests.get(server.url + "api/settings", headers={"Host": "evil.example"},
                         timeout=10)
    assert reply.status_code == 403


@case("server-bad-json", "control server", "settings POST that is not JSON",
      "HTTP 400, settings unchanged")
def _(inp, tmp, control):
    server, _ = control
    before = requests.get(server.url + "api/settings", timeout=10).json()
    reply = post(server.url, data=b"{strength: 1", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400 and "error" in reply.json()
    assert post(server.url, json=[1, 2]).status_code == 400
    assert requests.get(server.url + "api/settings", timeout=10).json() == before


@case("server-bad-value", "control server", "strength 500 in a settings POST",
      "HTTP 400, settings unchanged")
def _(inp, tmp, control):
    server, _ = control
    before = requests.get(server.url + "api/settings", timeout=10).json()
    assert post(server.url, json={"strength": 500}).status_code == 400
    assert post(server.url, json={"style": "nope"}).status_code == 400
    assert requests.get(server.url + "api/settings", timeout=10).json() == before


@case("server-huge-body", "control server", "a 5 MB settings POST", "HTTP 413, still serving")
def _(inp, tmp, control):
    server, _ = control
    reply = post(server.url, data=b"x" * 5_000_000, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and still_serving(server)


@case("server-path-escape", "control server", "/static/..%2f..%2fapp%2fserver.py",
      "HTTP 404")
def _(inp, tmp, control):
    server, _ = control
    for path in ("static/..%2f..%2fapp%2fserver.py", "static/.hidden.js", "static/x%00.js"):
        assert requests.get(server.url + path, timeout=10).status_code == 404, path


@case("server-garbage-request", "control server", "raw bytes that are not HTTP",
      "HTTP 400, still serving")
def _(inp, tmp, control):
    server, _ = control
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 GARBAGE \xff\xfe\r\n\r\n")
        assert b" 400 " in sock.recv(4096)[:20]
    assert still_serving(server)


@case("server-viewer-drops", "control server", "a viewer leaves in the middle of the stream",
      "stream ends for them, still serving")
def _(inp, tmp, control):
    server, _ = control
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"multipart" in sock.recv(65536)
    time.sleep(0.2)  # the server writes on into the closed socket
    assert still_serving(server)
    parts = requests.get(server.url + "frame.jpg", timeout=10)
    assert parts.status_code == 200 and parts.content[:2] == b"\xff\xd8"


# -- signals ---------------------------------------------------------------------------------


def interrupt_video(inp: Inputs, tmp: Path, signum: int) -> tuple[int, str]:
    out = tmp / "out.mp4"
    out.write_bytes(OLD)
    process = subprocess.Popen([sys.executable, "-m", "livebokeh", "video", inp.long_clip, "-o",
                                out, "--save-matte", tmp / "matte.mkv"],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp.glob(".out.*")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    time.sleep(0.3)  # into the frame loop
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert sorted(p.name for p in tmp.iterdir()) == ["out.mp4"]  # no temp file, no matte
    assert out.read_bytes() == OLD
    return process.returncode, stderr


@case("signal-ctrl-c-video", "signals", "Ctrl-C (SIGINT) during a video",
      "no output, old file kept, exit 130")
def _(inp, tmp):
    code, stderr = interrupt_video(inp, tmp, signal.SIGINT)
    # 130, or killed by SIGINT itself (which a shell also shows as 130): CPython ends that way
    # when the KeyboardInterrupt passed through code run by a C extension (its
    # _Py_UnhandledKeyboardInterrupt flag), even though livebokeh handled it
    assert "interrupted" in error_or_note(code, stderr, 130 if code > 0 else -signal.SIGINT)


@case("signal-term-video", "signals", "SIGTERM during a video",
      "no output, old file kept, exit 143")
def _(inp, tmp):
    code, stderr = interrupt_video(inp, tmp, signal.SIGTERM)
    assert "stopped by SIGTERM" in error_or_note(code, stderr, 143)


@case("signal-hangup-video", "signals", "SIGHUP (terminal closed) during a video",
      "no output, old file kept, exit 129")
def _(inp, tmp):
    code, stderr = interrupt_video(inp, tmp, signal.SIGHUP)
    assert "stopped by SIGHUP" in error_or_note(code, stderr, 129)


def error_or_note(code: int, stderr: str, expected: int) -> str:
    assert code == expected and "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


@case("signal-term-cam", "signals", "SIGTERM to a running cam", "clean stop with summary, exit 0")
def _(inp, tmp):
    process = subprocess.Popen([sys.executable, "-m", "livebokeh", "cam", "--camera", inp.clip,
                                "--loop", "--no-vcam", "--stats", "--json-summary",
                                tmp / "s.json"], stderr=subprocess.PIPE, text=True)
    seen = ""
    while "fps |" not in seen:  # the first stats line: frames are flowing
        line = process.stderr.readline()
        assert line, seen
        seen += line
    process.send_signal(signal.SIGTERM)
    stderr = seen + process.communicate(timeout=30)[1]
    assert process.returncode == 0 and "summary: " in stderr and "Traceback" not in stderr
    assert json.loads((tmp / "s.json").read_text())["frames"] > 0


@case("signal-term-fetch", "signals", "SIGTERM during models fetch (slow server)",
      "nothing saved, no staging left, exit 143")
def _(inp, tmp):
    process = subprocess.Popen([sys.executable, "-m", "livebokeh", "models", "fetch", "--url",
                                f"{inp.server}/drip"], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "XDG_CACHE_HOME": str(tmp)})
    deadline = time.monotonic() + 60
    while not list(tmp.rglob(".fetch-*/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143 and "Traceback" not in stderr, stderr
    assert [p for p in tmp.rglob("*") if p.is_file()] == []


# -- disk: every writer under every write fault ------------------------------------------------


@dataclass(frozen=True)
class Writer:
    """A command writing ``target`` (in the faulty folder D); other outputs go to folder OK."""

    name: str
    command: Callable[[Inputs, Path, Path], list]
    target: Callable[[Path], Path]
    also: Callable[[Path], Path] | None = None  # another existing file the command needs


WRITERS = [
    Writer("photo", lambda i, d, ok: ["photo", i.photo, "-o", d / "out.jpg"],
           lambda d: d / "out.jpg"),
    Writer("save-matte", lambda i, d, ok: ["photo", i.photo, "-o", ok / "out.jpg",
                                           "--save-matte", d / "matte.png"],
           lambda d: d / "matte.png"),
    Writer("save-coc", lambda i, d, ok: ["photo", i.photo, "-o", ok / "out.jpg", "--style",
                                         "lens", "--depth-map", i.depth_map, "--save-coc",
                                         d / "coc.npy"],
           lambda d: d / "coc.npy"),
    Writer("save-depth", lambda i, d, ok: ["photo", i.photo, "-o", ok / "out.jpg", "--style",
                                           "lens", "--depth-map", i.depth_map, "--save-depth",
                                           d / "depth.png"],
           lambda d: d / "depth.png"),
    Writer("video", lambda i, d, ok: ["video", i.clip, "-o", d / "out.mp4"],
           lambda d: d / "out.mp4"),
    Writer("video-matte", lambda i, d, ok: ["video", i.clip, "-o", ok / "out.mp4",
                                            "--save-matte", d / "matte.mkv"],
           lambda d: d / "matte.mkv"),
    Writer("models-fetch", lambda i, d, ok: ["models", "fetch", "--url", f"{i.server}/model"],
           lambda d: cache_models(d) / DEPTH_FILE),
    Writer("json-summary", lambda i, d, ok: ["cam", "--camera", i.clip, "--no-vcam", "--frames",
                                             "3", "--json-summary", d / "summary.json"],
           lambda d: d / "summary.json"),
    # the photo's output is there already (placed too): batch skips it and only appends
    Writer("batch-manifest", lambda i, d, ok: ["batch", i.photo, "-o", d],
           lambda d: d / "livebokeh-batch.jsonl", also=lambda d: d / "photo.jpg"),
]

FAULTS = {
    "ENOSPC": "disk full (a tmpfs filled up)",
    "EFBIG": "file size limit (RLIMIT_FSIZE 512 bytes)",
    "EIO": "failing disk (fsync returns EIO)",
    "EROFS": "read-only file system (tmpfs remounted ro)",
    "EACCES": "folder without write permission (0555)",
}


def _mount(folder: Path, *options: str) -> None:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs",
                           str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'needs root'})")


def _fill(folder: Path) -> None:
    """Write until the file system is full, so the next write of a byte fails."""
    fd = os.open(folder / ".filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@contextlib.contextmanager
def faulty_folder(fault: str, folder: Path, place: Callable[[Path], None]):
    """``folder`` set up for ``fault``, with the existing outputs ``place`` puts there."""
    folder.mkdir()
    mounted = fault in ("ENOSPC", "EROFS")
    if mounted:
        _mount(folder, "size=1m")
    try:
        place(folder)
        if fault == "ENOSPC":
            _fill(folder)
        elif fault == "EROFS":
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        elif fault == "EACCES":  # a read-only folder of read-only files
            for path in [folder, *folder.rglob("*")]:
                path.chmod(0o555 if path.is_dir() else 0o444)
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def run_writer(writer: Writer, fault: str, inp: Inputs, tmp: Path) -> None:
    ok = tmp / "ok"
    ok.mkdir()
    folder = tmp / "d"
    env = {"XDG_CACHE_HOME": str(folder)} if writer.name == "models-fetch" else None

    def place(d: Path) -> None:
        for path in (writer.target(d), writer.also(d) if writer.also else None):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(OLD)

    if fault == "EIO" and writer.name == "models-fetch":
        need(DEPTH_MODEL)  # fsync comes after the sha256 check: only the real file gets there
    with faulty_folder(fault, folder, place) as d:
        before = snapshot(d, ok)
        args = writer.command(inp, d, ok)
        if fault in ("ENOSPC", "EROFS"):
            outcome = cli(*args, env=env)
        else:
            flags = {"EFBIG": ("--fsize", "512"), "EIO": ("--fail-fsync", "EIO"),
                     "EACCES": ("--no-dac-override",)}[fault]
            if writer.name == "models-fetch" and fault == "EIO":
                args = ["models", "fetch", "--url", f"{serve_real_model(tmp)}/model"]
            outcome = child(*args, flags=flags, env=env)
        line = error_line(outcome)
        after = snapshot(d, ok)
    named = re.match(r"livebokeh: error: cannot write (.+?): ", line)
    assert named, line
    outputs = {str(a) for a in args if isinstance(a, Path)} | {str(writer.target(d))}
    if fault in ("ENOSPC", "EROFS", "EACCES"):  # the fault is in D: the D output is named
        assert named.group(1) == str(writer.target(d)), line
    else:  # process-wide fault: whichever output is written first
        assert named.group(1) in outputs, line
    assert f"[{fault}]" in line, line
    assert after == before  # no temp or partial file; the existing output is untouched


def serve_real_model(tmp: Path) -> str:
    """A second local server with the real depth model (the sha256 must match)."""
    class Real(Handler):
        body = DEPTH_MODEL.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Real)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


for _writer in WRITERS:
    for _fault, _what in FAULTS.items():
        case(f"disk-{_writer.name}-{_fault.lower()}", "disk", f"{_writer.name}: {_what}",
             f"one line naming the file and [{_fault}], exit 1, nothing written")(
            lambda inp, tmp, writer=_writer, fault=_fault: run_writer(writer, fault, inp, tmp))


@case("disk-stdout-full", "disk", "standard output is a full disk (> /dev/full)",
      "error, exit 1")
def _(inp, tmp):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "livebokeh", "models"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert "standard output" in error_line(Outcome(done.returncode, done.stderr))


# -- the suite -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", CASES, ids=lambda c: c.id)
def test_fault(fault: Case, inputs, tmp_path, request):
    if fault.area == "disk" and not fault_exec.supported():
        pytest.skip("OS-level fault injection needs Linux on x86_64 or aarch64")
    extra = {}
    if "control" in fault.check.__code__.co_varnames[: fault.check.__code__.co_argcount]:
        extra["control"] = request.getfixturevalue("control")
    fault.check(inputs, tmp_path, **extra)


def readme_table() -> str:
    """The README's table: one row per case, the writer x fault matrix as one row per fault."""
    rows = ["| case | area | fault | what livebokeh does |", "|---|---|---|---|"]
    rows += [f"| `{c.id}` | {c.area} | {c.fault} | {c.gets} |" for c in CASES
             if not c.id.startswith(tuple(f"disk-{w.name}-" for w in WRITERS))]
    writers = ", ".join(w.name for w in WRITERS)
    rows += [f"| `disk-*-{fault.lower()}` | disk | {what}, for each writer: {writers} | one line "
             f"naming the file and [{fault}], exit 1, no temp or partial file, old files kept |"
             for fault, what in FAULTS.items()]
    return "\n".join(rows)


def test_readme_lists_every_fault():
    areas = {c.area for c in CASES}
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    assert areas >= {"photos", "videos", "models", "camera", "virtual camera", "config",
                     "control server", "signals", "disk"}
    assert readme_table() in (REPO / "README.md").read_text(), \
        "README's fault table is out of date: paste readme_table() there"
