"""Model resolver, `livebokeh models` listing and `models fetch` against a local HTTP server.

Every file is a real model (packaged, or the shared TCMonoDepth download); the server is
http.server on 127.0.0.1, so no test touches the internet.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEPTH_MODEL, need
from livebokeh.app.cli import main
from livebokeh.errors import LivebokehError
from livebokeh.models import (
    PACKAGED_DIR,
    REGISTRY,
    cache_dir,
    fetch_model,
    find_model,
    resolve_model,
    sha256_of,
)

DEPTH = REGISTRY["depth"]
SELFIE = REGISTRY["selfie"]


def run_cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def listing() -> dict[str, str]:
    """`livebokeh models` output as {model name: its first line}."""
    result = run_cli("models")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    return {line.split()[0]: line for line in lines if line and not line.startswith(" ")}


def copy_packaged(spec, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.filename
    shutil.copyfile(PACKAGED_DIR / spec.filename, target)
    return target


def cache_files() -> list[Path]:
    """Everything under the user cache dir (hidden staging folders included)."""
    return sorted(cache_dir().rglob("*")) if cache_dir().exists() else []


# --- resolver ---------------------------------------------------------------------------

def test_packaged_models_are_found_and_verify():
    for name in ("selfie", "selfie-landscape", "face"):
        resolved = resolve_model(name)
        assert resolved.origin == "package"
        assert sha256_of(resolved.path) == REGISTRY[name].sha256


def test_resolver_order_path_then_env_then_cache_then_package(tmp_path, monkeypatch):
    cached = copy_packaged(SELFIE, cache_dir())
    env_copy = copy_packaged(SELFIE, tmp_path / "env")
    own = copy_packaged(SELFIE, tmp_path / "own")
    monkeypatch.setenv("LIVEBOKEH_MODEL_DIR", str(tmp_path / "env"))

    assert resolve_model("selfie", own).path == own
    assert resolve_model("selfie", own).origin == "path"
    assert (resolve_model("selfie").origin, resolve_model("selfie").path) == ("env", env_copy)
    monkeypatch.delenv("LIVEBOKEH_MODEL_DIR")
    assert (resolve_model("selfie").origin, resolve_model("selfie").path) == ("cache", cached)
    cached.unlink()
    assert resolve_model("selfie").origin == "package"


def test_env_dir_without_the_file_falls_through(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEBOKEH_MODEL_DIR", str(tmp_path))
    assert resolve_model("face").origin == "package"


def test_explicit_path_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(LivebokehError, match="not found"):
        resolve_model("selfie", tmp_path / "nope.tflite")


def test_corrupt_cached_copy_is_a_clear_error():
    cached = copy_packaged(SELFIE, cache_dir())
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    cached.write_bytes(bytes(data))
    with pytest.raises(LivebokehError, match="corrupt.*sha256 mismatch") as caught:
        resolve_model("selfie")
    assert str(cached) in str(caught.value)
    assert "CORRUPT" in listing()["selfie"]


def test_corrupt_model_ends_a_command_with_one_line(tmp_path):
    (cache_dir()).mkdir(parents=True)
    (cache_dir() / REGISTRY["selfie-landscape"].filename).write_bytes(b"not a model")
    photo = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (64, 36), (120, 90, 60)).save(photo)  # landscape: uses selfie-landscape
    result = run_cli("photo", str(photo), "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "sha256 mismatch" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.png").exists()


def test_depth_is_missing_until_fetched():
    assert find_model("depth") is None
    with pytest.raises(LivebokehError, match="livebokeh models fetch"):
        resolve_model("depth")


# --- listing ----------------------------------------------------------------------------

def test_models_lists_all_four_with_origin_size_licence_and_check():
    rows = listing()
    assert set(rows) == set(REGISTRY)
    for name in ("selfie", "selfie-landscape", "face"):
        row = rows[name]
        size_kib = (PACKAGED_DIR / REGISTRY[name].filename).stat().st_size / 1024
        assert f"package: {PACKAGED_DIR / REGISTRY[name].filename}" in row
        assert f"{size_kib:.0f} KiB" in row and "Apache-2.0" in row and "sha256 ok" in row
    assert "MISSING" in rows["depth"] and "livebokeh models fetch" in rows["depth"]
    assert "MIT" in rows["depth"]
    assert DEPTH.description in run_cli("models").stdout


# --- fetch against a local server -------------------------------------------------------

class _Handler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[str]

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.requests_seen.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """A 127.0.0.1 HTTP server over a folder holding the real depth model and a wrong file.

    Yields (base URL, list of request paths seen).
    """
    root = tmp_path / "www"
    root.mkdir()
    shutil.copyfile(need(DEPTH_MODEL), root / DEPTH.filename)
    (root / "wrong.onnx").write_bytes(DEPTH_MODEL.read_bytes()[:-1000])  # truncated download
    seen: list[str] = []
    handler = type("Handler", (_Handler,), {"requests_seen": seen})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_fetch_puts_a_verified_model_in_the_cache(server):
    base, seen = server
    result = run_cli("models", "fetch", "--url", f"{base}/{DEPTH.filename}")
    assert result.exit_code == 0, result.output
    target = cache_dir() / DEPTH.filename
    assert str(target) in result.stdout
    assert sha256_of(target) == DEPTH.sha256
    assert cache_files() == [target]  # no staging folder or temp file left
    assert resolve_model("depth").origin == "cache"
    row = listing()["depth"]
    assert f"cache: {target}" in row and "sha256 ok" in row
    assert seen == [f"/{DEPTH.filename}"]


def test_fetch_skips_a_verified_copy_unless_forced(server):
    base, seen = server
    url = f"{base}/{DEPTH.filename}"
    assert run_cli("models", "fetch", "--url", url).exit_code == 0
    again = run_cli("models", "fetch", "--url", url)
    assert again.exit_code == 0 and "already in the cache" in again.stdout
    assert len(seen) == 1
    assert run_cli("models", "fetch", "--url", url, "--force").exit_code == 0
    assert len(seen) == 2
    assert sha256_of(cache_dir() / DEPTH.filename) == DEPTH.sha256


def test_fetch_model_shows_a_progress_bar(server, capfd):
    base, _ = server
    path = fetch_model("depth", url=f"{base}/{DEPTH.filename}", progress=True)
    assert path == cache_dir() / DEPTH.filename
    assert "100%" in capfd.readouterr().err  # tqdm's bar, on stderr


def test_fetch_url_from_environment(server):
    base, seen = server
    result = run_cli("models", "fetch", env={"LIVEBOKEH_DEPTH_URL": f"{base}/{DEPTH.filename}"})
    assert result.exit_code == 0, result.output
    assert seen == [f"/{DEPTH.filename}"]


def test_fetch_replaces_a_corrupt_cached_copy(server):
    base, _ = server
    cache_dir().mkdir(parents=True)
    (cache_dir() / DEPTH.filename).write_bytes(b"half a model")
    assert "CORRUPT" in listing()["depth"]
    assert run_cli("models", "fetch", "--url", f"{base}/{DEPTH.filename}").exit_code == 0
    assert sha256_of(cache_dir() / DEPTH.filename) == DEPTH.sha256


def one_line_error(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    error = result.stderr.strip().splitlines()
    assert error[-1].startswith("livebokeh: error: ") and len(error) == 2  # "fetching..." + error
    return error[-1]


def test_fetch_of_wrong_bytes_fails_and_leaves_nothing(server):
    base, _ = server
    error = one_line_error(run_cli("models", "fetch", "--url", f"{base}/wrong.onnx"))
    assert "sha256 mismatch" in error and "nothing was saved" in error
    assert cache_files() == []
    assert find_model("depth") is None


def test_failed_forced_fetch_keeps_the_good_copy(server):
    base, _ = server
    assert run_cli("models", "fetch", "--url", f"{base}/{DEPTH.filename}").exit_code == 0
    one_line_error(run_cli("models", "fetch", "--url", f"{base}/wrong.onnx", "--force"))
    assert cache_files() == [cache_dir() / DEPTH.filename]
    assert sha256_of(cache_dir() / DEPTH.filename) == DEPTH.sha256


def test_fetch_404_is_an_error(server):
    base, _ = server
    error = one_line_error(run_cli("models", "fetch", "--url", f"{base}/missing.onnx"))
    assert "HTTP 404" in error
    assert cache_files() == []


def test_fetch_connection_refused_is_an_error():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = one_line_error(run_cli("models", "fetch", "--url", f"http://127.0.0.1:{port}/m.onnx"))
    assert "could not connect" in error
    assert cache_files() == []


def test_fetch_rejects_a_non_http_url(tmp_path):
    error = one_line_error(run_cli("models", "fetch", "--url", str(tmp_path / "model.onnx")))
    assert "http(s)" in error
