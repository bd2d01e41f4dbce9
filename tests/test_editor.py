"""The photo editor's server over real HTTP on 127.0.0.1: routes, errors, security, export.

A real ``EditorServer`` around a real ``Editor`` (real models, real photos from
people-masks), driven with ``requests`` as the page drives it. The export is checked
against ``livebokeh photo --config SIDECAR`` run on the same input: the same pixels.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from click.testing import CliRunner
from PIL import Image, ImageCms

from conftest import DEPTH_MODEL, LEFT_PERSON, PEOPLE, RIGHT_PERSON, need, two_people_photo
from livebokeh.app.cli import main
from livebokeh.app.editing import BYTES_PER_PIXEL, Editor, preview_side
from livebokeh.app.editor import EditorServer
from livebokeh.errors import LivebokehError
from livebokeh.io.images import MAX_MEGAPIXELS, read_image

PHOTO = PEOPLE / "images" / "86.jpg"  # 1350x900, one person reading on a bench
JSON = {"Content-Type": "application/json"}


def depth_model() -> str | None:
    return str(DEPTH_MODEL) if DEPTH_MODEL.exists() else None


class Client:
    """The page's calls, against a running server (``token`` sent as a Bearer header)."""

    def __init__(self, server: EditorServer, token: str | None = None):
        self.url = server.url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers, timeout=60, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", JSON)}
        data = json.dumps(body if body is not None else {}) if "data" not in kw else None
        return requests.post(self.url + path, data=kw.pop("data", data), headers=headers,
                             timeout=120, **kw)

    def open(self, path: Path) -> dict:
        reply = self.post("api/open", {"path": str(path)})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def preview(self, photo_id: str, size: int = 768, view: str = "result") -> np.ndarray:
        reply = self.post(f"api/photos/{photo_id}/preview", {"size": size, "view": view})
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"] == "image/jpeg"
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(reply.content, np.uint8),
                                         cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture
def served(tmp_path):
    """(client, editor, export folder) for a server on an ephemeral loopback port."""
    out = tmp_path / "out"
    out.mkdir()
    with Editor(out, depth_model=depth_model()) as editor, EditorServer(editor) as server:
        yield Client(server), editor, out


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "in" / "reading.jpg"
    path.parent.mkdir()
    shutil.copy(need(PHOTO), path)
    return path


def error_of(reply: requests.Response, status: int) -> str:
    assert reply.status_code == status, (reply.status_code, reply.text)
    return reply.json()["error"]


def sharpness(rgb: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Mean absolute Laplacian of the grey image inside ``box`` (fractions x0, y0, x1, y1)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return float(np.abs(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)).mean())


# --- opening, settings, preview -------------------------------------------------------------

def test_open_change_and_preview(served, photo):
    client, _, _ = served
    info = client.open(photo)
    assert (info["name"], info["width"], info["height"]) == ("reading.jpg", 1350, 900)
    assert client.open(photo)["id"] == info["id"]  # the same file is not opened twice
    thumb = client.get(f"api/photos/{info['id']}/thumb.jpg")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (160, 107)

    original = client.preview(info["id"], 700, "original")
    assert original.shape == (512, 768, 3)  # 700 → the next multiple of 256
    client.post(f"api/photos/{info['id']}/settings", {"strength": 10, "grain": "off"})
    light = client.preview(info["id"], 700)
    reply = client.post(f"api/photos/{info['id']}/settings", {"strength": 80})
    assert reply.json()["settings"]["strength"] == 80
    strong = client.preview(info["id"], 700)
    background, face = (0.02, 0.05, 0.2, 0.5), (0.42, 0.2, 0.52, 0.33)
    assert sharpness(light, background) < 0.7 * sharpness(original, background)
    assert sharpness(strong, background) < 0.7 * sharpness(light, background)
    assert sharpness(strong, face) > 0.8 * sharpness(original, face)  # the person stays sharp

    matte = client.preview(info["id"], 700, "matte").astype(int)
    redness = matte[..., 0] - (matte[..., 1] + matte[..., 2]) // 2
    tinted = redness - (original[..., 0].astype(int) - (original[..., 1].astype(int)
                                                        + original[..., 2]) // 2)
    assert tinted[20:200, 10:120].mean() > 40  # background tinted red
    assert abs(tinted[110:170, 330:390].mean()) < 10  # the face is not


def test_state_lists_photos_limit_and_folder(served, photo):
    client, _, out = served
    client.open(photo)
    state = client.get("api/state").json()
    assert [p["name"] for p in state["photos"]] == ["reading.jpg"]
    assert state["out_dir"] == str(out) and "megapixels" in state["limit"]
    assert state["people"] is True  # a click can keep one person sharp


def test_upload_opens_a_photo_from_its_bytes(served):
    client, _, _ = served
    data = need(PHOTO).read_bytes()
    reply = client.post("api/upload?name=from%20disk.jpg", data=data,
                        headers={"Content-Type": "application/octet-stream"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["name"], reply.json()["source"]) == ("from disk.jpg", None)
    reply = client.post("api/upload?name=a.jpg", data=data, headers={"Content-Type": "image/jpeg"})
    assert "octet-stream" in error_of(reply, 415)


def test_bad_input_gets_one_clear_line(served, tmp_path, photo):
    client, _, _ = served
    notes = tmp_path / "notes.jpg"
    notes.write_text("shopping list\n")
    assert f"cannot read image {notes}: not an image" in error_of(
        client.post("api/open", {"path": str(notes)}), 400)
    text = tmp_path / "notes.txt"
    text.write_text("x")
    assert "unsupported image type '.txt': notes.txt" in error_of(
        client.post("api/open", {"path": str(text)}), 400)
    assert "input not found" in error_of(client.post("api/open", {"path": "/no/such.jpg"}), 400)
    assert "is a folder" in error_of(client.post("api/open", {"path": str(tmp_path)}), 400)
    reply = client.post("api/upload?name=notes.png", data=b"not a png",
                        headers={"Content-Type": "application/octet-stream"})
    assert "cannot read image notes.png" in error_of(reply, 400)
    assert "empty" in error_of(client.post("api/upload?name=e.png", data=b"",
                                           headers={"Content-Type": "application/octet-stream"}),
                               400)

    info = client.open(photo)
    settings = f"api/photos/{info['id']}/settings"
    assert "strength must be between 0 and 100" in error_of(
        client.post(settings, {"strength": 150}), 400)
    assert "unknown setting(s): brightness" in error_of(client.post(settings, {"brightness": 1}),
                                                        400)
    assert "unknown style" in error_of(client.post(settings, {"style": "swirl"}), 400)
    assert "not found" in error_of(client.post(settings, {"background": "/no/bg.jpg"}), 400)
    assert "bad value for blades" in error_of(client.post(settings, {"blades": "many"}), 400)
    for key in ("angle", "blade_rotation"):  # JSON's NaN and 1e400 (inf) parse in Python
        assert "finite" in error_of(client.post(settings, data=f'{{"{key}": NaN}}'), 400)
        assert "finite" in error_of(client.post(settings, data=f'{{"{key}": 1e400}}'), 400)
    assert client.get("api/state").json()["photos"][0]["settings"]["strength"] == 30  # unchanged
    stroke = f"api/photos/{info['id']}/stroke"
    assert "restore or erase" in error_of(
        client.post(stroke, {"mode": "smudge", "points": [[0.5, 0.5]], "radius": 0.1}), 400)
    assert "needs mode, points" in error_of(client.post(stroke, {"mode": "erase"}), 400)
    assert "no open photo 'p99'" in error_of(client.post("api/photos/p99/settings", {}), 404)
    assert "application/json" in error_of(
        client.post(settings, data="strength=10",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert "JSON object" in error_of(client.post(settings, data="[1, 2"), 400)
    assert "preview size" in error_of(
        client.post(f"api/photos/{info['id']}/preview", {"size": "big"}), 400)


def test_photo_too_large_for_memory_is_refused_with_the_limit(served, tmp_path, photo):
    client, editor, _ = served
    # a real PNG of 30000 x 20000 pixels (no pixel data): refused before anything is decoded
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = (30000).to_bytes(4, "big") + (20000).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    message = error_of(client.post("api/open", {"path": str(huge)}), 413)
    assert f"huge.png: over {MAX_MEGAPIXELS} megapixels, too large for memory" in message
    assert "the limit here is" in message

    editor.memory_bytes = 60 * 2**20  # as if this machine had 60 MiB free
    message = error_of(client.post("api/open", {"path": str(photo)}), 413)
    limit_mp = 60 * 2**20 // BYTES_PER_PIXEL / 1e6
    assert "1350x900 (1.2 megapixels) is too large for memory" in message
    assert f"the limit here is {limit_mp:.2g} megapixels (0.1 GiB" in message
    assert client.get("api/state").json()["photos"] == []


def test_upload_larger_than_allowed_is_refused(tmp_path):
    class SmallServer(EditorServer):
        client_max_size = 1000

    with Editor(tmp_path) as editor, SmallServer(editor) as server:
        reply = Client(server).post("api/upload?name=big.jpg", data=need(PHOTO).read_bytes(),
                                    headers={"Content-Type": "application/octet-stream"})
    assert "big.jpg: the file is larger than" in error_of(reply, 413)


# --- security --------------------------------------------------------------------------------

def test_token_host_check_and_loopback_rule(tmp_path):
    with Editor(tmp_path) as editor:
        with pytest.raises(LivebokehError, match="needs --token"):
            EditorServer(editor, "0.0.0.0", 0)
        with EditorServer(editor, "127.0.0.1", 0, token="s3cret") as server:
            assert requests.get(server.url + "api/state", timeout=10).status_code == 401
            assert requests.get(server.url, timeout=10).status_code == 401  # the page too
            assert Client(server, "wrong").get("api/state").status_code == 401
            assert Client(server, "s3cret").get("api/state").status_code == 200
            assert requests.get(server.url + "api/state?token=s3cret", timeout=10).ok
            assert requests.get(server.url + "api/state", timeout=10,
                                headers={"X-Livebokeh-Token": "s3cret"}).ok
            assert Client(server, "s3cret").post("api/open", {"path": "/x.jpg"}) \
                .status_code == 400  # past the guard
        with EditorServer(editor) as server:  # no token: loopback names only
            rebound = requests.get(server.url + "api/state", timeout=10,
                                   headers={"Host": f"evil.example:{server.port}"})
            assert rebound.status_code == 403
            page = requests.get(server.url, timeout=10)
            assert page.ok and "livebokeh editor" in page.text
            assert requests.get(server.url + "static/editor.js", timeout=10).ok
            assert requests.get(server.url + "static/..%2Fserver.py", timeout=10).status_code \
                == 404


@pytest.mark.parametrize("name", ["../escape.jpg", "/tmp/escape.jpg", "sub/escape.jpg",
                                  "..", ".hidden.jpg", "a\\b.jpg", "", "x.gif", "c:x.jpg",
                                  "x" * 300 + ".jpg"])
def test_export_names_cannot_leave_the_export_folder(served, photo, tmp_path, name):
    client, _, out = served
    info = client.open(photo)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    reply = client.post(f"api/photos/{info['id']}/export", {"name": name})
    assert reply.status_code == 400, reply.text
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_export_does_not_write_through_links_or_replace_files(served, photo, tmp_path):
    client, _, out = served
    info = client.open(photo)
    victim = tmp_path / "victim.jpg"
    victim.write_bytes(b"keep me")
    (out / "link.jpg").symlink_to(victim)
    assert "link" in error_of(client.post(f"api/photos/{info['id']}/export",
                                          {"name": "link.jpg", "overwrite": True}), 400)
    assert victim.read_bytes() == b"keep me"

    (out / "taken.png").write_bytes(b"old")
    message = error_of(client.post(f"api/photos/{info['id']}/export", {"name": "taken.png"}),
                       409)
    assert "taken.png" in message and (out / "taken.png").read_bytes() == b"old"
    reply = client.post(f"api/photos/{info['id']}/export", {"name": "taken.png",
                                                            "overwrite": True})
    assert reply.status_code == 200, reply.text
    assert Image.open(out / "taken.png").size == (1350, 900)
    assert sorted(p.name for p in out.iterdir()) == ["link.jpg", "taken.livebokeh.json",
                                                     "taken.png"]


def test_export_next_to_the_input_cannot_replace_it(tmp_path, photo):
    with Editor(photo.parent) as editor, EditorServer(editor) as server:
        client = Client(server)
        info = client.open(photo)
        reply = client.post(f"api/photos/{info['id']}/export",
                            {"name": photo.name, "overwrite": True})
        assert "would overwrite the input" in error_of(reply, 400)
    assert photo.read_bytes() == need(PHOTO).read_bytes()


def test_transparent_background_needs_an_alpha_format(served, photo):
    client, _, out = served
    info = client.open(photo)
    client.post(f"api/photos/{info['id']}/settings", {"background": "transparent"})
    assert ".png or .webp" in error_of(client.post(f"api/photos/{info['id']}/export",
                                                   {"name": "cut.jpg"}), 400)
    assert list(out.iterdir()) == []
    assert client.post(f"api/photos/{info['id']}/export", {"name": "cut.webp"}).ok
    _, alpha = read_image(out / "cut.webp")
    assert alpha is not None and alpha.min() == 0 and alpha.max() == 255


# --- strokes ---------------------------------------------------------------------------------

ERASE_JACKET = {"mode": "erase", "points": [[0.36, 0.55], [0.42, 0.62], [0.5, 0.6]],
                "radius": 0.04, "softness": 0.3}


def test_strokes_change_the_matte_and_undo_redo(served, photo):
    client, _, _ = served
    info = client.open(photo)
    photo_id = info["id"]
    base = client.preview(photo_id, 768, "matte").astype(int)
    reply = client.post(f"api/photos/{photo_id}/stroke", ERASE_JACKET)
    assert (reply.json()["strokes"], reply.json()["undone"]) == (1, 0)
    erased = client.preview(photo_id, 768, "matte").astype(int)
    jacket = (slice(int(0.57 * 512), int(0.61 * 512)), slice(int(0.4 * 768), int(0.44 * 768)))
    assert (erased - base)[jacket][..., 0].mean() > 40  # the jacket is now tinted: blurred
    assert np.abs(erased - base)[:100].max() < 8  # far from the stroke: nothing changed

    reply = client.post(f"api/photos/{photo_id}/undo")
    assert (reply.json()["strokes"], reply.json()["undone"]) == (0, 1)
    assert np.abs(client.preview(photo_id, 768, "matte").astype(int) - base)[jacket].max() < 8
    reply = client.post(f"api/photos/{photo_id}/redo")
    assert (reply.json()["strokes"], reply.json()["undone"]) == (1, 0)
    again = client.preview(photo_id, 768, "matte").astype(int)
    assert np.abs(again - erased).mean() < 1
    assert client.post(f"api/photos/{photo_id}/redo").json()["strokes"] == 1  # nothing to redo


# --- export round trip -------------------------------------------------------------------------

def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("style, name", [("lens", "edit.png"), ("motion", "edit.jpg")])
def test_export_equals_the_cli_run_from_the_sidecar(served, photo, tmp_path, style, name):
    client, _, out = served
    info = client.open(photo)
    photo_id = info["id"]
    changes = {"style": style, "strength": 25, "focus": "0.47,0.25", "angle": 20}
    assert client.post(f"api/photos/{photo_id}/settings", changes).ok
    assert client.post(f"api/photos/{photo_id}/stroke", ERASE_JACKET).ok
    restore = {"mode": "restore", "points": [[0.8, 0.4], [0.82, 0.5]], "radius": 0.03,
               "softness": 0}
    assert client.post(f"api/photos/{photo_id}/stroke", restore).ok
    reply = client.post(f"api/photos/{photo_id}/export", {"name": name, "quality": 80})
    assert reply.status_code == 200, reply.text
    result = reply.json()
    stem = Path(name).stem
    assert result["output"] == str(out / name) and result["bytes"] == (out / name).stat().st_size
    assert result["mask"] == str(out / f"{stem}.refine.png")
    assert result["sidecar"] == str(out / f"{stem}.livebokeh.json")

    sidecar = json.loads((out / f"{stem}.livebokeh.json").read_text())
    assert sidecar["style"] == style and sidecar["strength"] == 25
    assert sidecar["mask"] == f"{stem}.refine.png" and sidecar["quality"] == 80
    with Image.open(out / f"{stem}.refine.png") as mask_image:
        assert mask_image.mode == "L" and mask_image.size == (1350, 900)
        mask = np.asarray(mask_image)
    assert mask[int(0.6 * 900), int(0.42 * 1350)] == 0  # erased: black
    assert mask[int(0.45 * 900), int(0.81 * 1350)] == 255  # restored: white
    assert mask[50, 50] == 128  # untouched: grey, automatic

    again = tmp_path / f"cli{Path(name).suffix}"
    run = run_cli("photo", photo, "-o", again, "--config", out / f"{stem}.livebokeh.json")
    assert run.exit_code == 0, run.output
    exported, cli = read_image(out / name)[0], read_image(again)[0]
    assert np.array_equal(exported, cli)
    original = read_image(photo)[0]
    stroke_box = (0.38, 0.56, 0.46, 0.61)
    assert sharpness(exported, stroke_box) < 0.5 * sharpness(original, stroke_box)


def test_export_keeps_orientation_icc_profile_and_alpha(served, tmp_path):
    client, _, out = served
    rgb = read_image(need(PHOTO))[0]
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: displayed turned 90° clockwise
    sideways = tmp_path / "sideways.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(rgb, 1))).save(sideways, exif=exif,
                                                                 icc_profile=icc, quality=95)
    info = client.open(sideways)
    assert (info["width"], info["height"]) == (1350, 900)  # upright
    assert client.post(f"api/photos/{info['id']}/export", {"name": "upright.jpg"}).ok
    with Image.open(out / "upright.jpg") as image:
        assert image.size == (1350, 900) and image.info.get("icc_profile") == icc
        assert image.getexif().get(0x0112) in (None, 1)

    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, 200:] = 255
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "cutout.png")
    info = client.open(tmp_path / "cutout.png")
    assert client.post(f"api/photos/{info['id']}/export", {"name": "cutout-out.png"}).ok
    assert np.array_equal(read_image(out / "cutout-out.png")[1], alpha)


def test_apply_to_all_copies_settings_but_not_focus_points_or_strokes(served, photo, tmp_path):
    client, _, _ = served
    second = tmp_path / "second.jpg"
    shutil.copy(need(PEOPLE / "images" / "94.jpg"), second)
    first, other = client.open(photo), client.open(second)
    client.post(f"api/photos/{first['id']}/settings",
                {"style": "lens", "strength": 22, "blades": 6, "focus": "0.4,0.3"})
    client.post(f"api/photos/{first['id']}/stroke", ERASE_JACKET)
    reply = client.post("api/apply-all", {"from": first["id"]})
    assert reply.status_code == 200, reply.text
    copied = {p["id"]: p for p in reply.json()["photos"]}[other["id"]]
    assert (copied["settings"]["style"], copied["settings"]["strength"],
            copied["settings"]["blades"]) == ("lens", 22, 6)
    assert copied["settings"]["focus"] == "auto" and copied["strokes"] == 0
    assert "no open photo" in error_of(client.post("api/apply-all", {"from": "p42"}), 404)


@pytest.fixture
def two_people(tmp_path) -> Path:
    return two_people_photo(tmp_path / "two.png")


def test_person_click_keeps_only_that_person_and_the_cli_agrees(served, two_people, tmp_path):
    client, _, out = served
    info = client.open(two_people)
    photo_id = info["id"]
    assert "x and y" in error_of(client.post(f"api/photos/{photo_id}/person", {"x": "a"}), 400)
    assert "inside" in error_of(client.post(f"api/photos/{photo_id}/person", {"x": 2, "y": 0}),
                                400)
    original = read_image(two_people)[0]
    left, right = LEFT_PERSON, RIGHT_PERSON
    assert client.post(f"api/photos/{photo_id}/settings", {"strength": 60}).ok
    both = client.preview(photo_id, 960)
    assert sharpness(both, right) > 0.8 * sharpness(original, right)  # everyone is sharp
    reply = client.post(f"api/photos/{photo_id}/person", {"x": 0.2, "y": 0.6})
    assert reply.status_code == 200 and reply.json()["settings"]["people"] == "main"
    picked = client.preview(photo_id, 960)
    assert sharpness(picked, left) > 0.8 * sharpness(original, left)  # the one clicked
    assert sharpness(picked, right) < 0.5 * sharpness(original, right)  # the other: blurred
    reply = client.post(f"api/photos/{photo_id}/export", {"name": "one.png"})
    assert reply.status_code == 200, reply.text
    sidecar = json.loads((out / "one.livebokeh.json").read_text())
    assert sidecar["people"] == "main" and sidecar["subject"] == "0.2,0.6"
    again = tmp_path / "cli.png"
    run = run_cli("photo", two_people, "-o", again, "--config", out / "one.livebokeh.json")
    assert run.exit_code == 0, run.output
    assert np.array_equal(read_image(out / "one.png")[0], read_image(again)[0])
    reply = client.post(f"api/photos/{photo_id}/person", {"people": "all"})
    assert reply.json()["settings"]["people"] == "all"
    again = client.preview(photo_id, 960)
    assert sharpness(again, right) > 0.8 * sharpness(original, right)


def test_close_photo(served, photo):
    client, _, _ = served
    info = client.open(photo)
    assert client.post(f"api/photos/{info['id']}/close").json() == {"closed": info["id"]}
    assert client.get("api/state").json()["photos"] == []
    assert client.get(f"api/photos/{info['id']}/thumb.jpg").status_code == 404


# --- the command -----------------------------------------------------------------------------

def test_edit_command_serves_opens_photos_and_stops_on_ctrl_c(tmp_path, photo):
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    command = [sys.executable, "-m", "livebokeh", "edit", str(photo), str(notes),
               "--no-browser", "--out", str(tmp_path)]
    editor = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        first = editor.stderr.readline()
        assert first.startswith("livebokeh editor: http://127.0.0.1:"), first
        url = first.split()[2]
        deadline = time.time() + 60
        while time.time() < deadline:
            state = requests.get(url + "api/state", timeout=10).json()
            if not state["loading"]:
                break
            time.sleep(0.2)
        assert [p["name"] for p in state["photos"]] == ["reading.jpg"]
        assert "unsupported image type '.txt': notes.txt" in state["errors"][0]
    finally:
        editor.send_signal(signal.SIGINT)
        _, rest = editor.communicate(timeout=30)
    assert editor.returncode == 0, rest
    assert "livebokeh editor stopped" in rest and "Traceback" not in rest


def test_edit_command_refuses_other_addresses_without_a_token(tmp_path):
    result = run_cli("edit", "--serve", "0.0.0.0:0", "--no-browser", "--out", tmp_path)
    assert result.exit_code == 1
    assert result.output.strip().startswith("livebokeh: error: serving on 0.0.0.0")


def test_background_image_round_trip_from_another_folder(served, photo, tmp_path, monkeypatch):
    client, _, out = served
    backdrop = tmp_path / "backdrop.jpg"
    shutil.copy(need(PEOPLE / "images" / "94.jpg"), backdrop)
    monkeypatch.chdir(tmp_path)
    info = client.open(photo)
    reply = client.post(f"api/photos/{info['id']}/settings", {"background": "backdrop.jpg"})
    assert reply.json()["settings"]["background"] == str(backdrop)  # made absolute
    assert client.post(f"api/photos/{info['id']}/export", {"name": "swapped.png"}).ok
    sidecar = out / "swapped.livebokeh.json"
    assert json.loads(sidecar.read_text())["background"] == str(backdrop)
    monkeypatch.chdir(out)
    assert run_cli("photo", photo, "-o", tmp_path / "cli.png", "--config", sidecar).exit_code == 0
    assert np.array_equal(read_image(out / "swapped.png")[0], read_image(tmp_path / "cli.png")[0])


def test_preview_sizes_are_steps_within_the_cap():
    assert [preview_side(v) for v in (1, 600, 1280, 1281, 9000)] == [512, 768, 1280, 1536, 1536]
    for bad in ("nan", "big", None, float("inf")):
        with pytest.raises(LivebokehError, match="preview size"):
            preview_side(bad)
