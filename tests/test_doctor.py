"""livebokeh doctor: a report on this machine (no camera, no v4l2loopback, no GPU here) and on
a fake sysfs tree with a webcam and a loopback device."""

from __future__ import annotations

import json
import os
import sys

import pytest
from click.testing import CliRunner

from livebokeh.app.cli import main
from livebokeh.app.doctor import format_report, run_checks, video_devices
from livebokeh.models import REGISTRY

LINUX = sys.platform.startswith("linux")


def test_doctor_reports_every_section_and_exits_0():
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0
    for section in ("cameras:", "virtual camera:", "gpu:", "models:", "preview window:"):
        assert section in result.output
    for name in REGISTRY:
        assert f"  {name}: " in result.output


def test_doctor_json_lists_models_with_their_state():
    result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    models = report["models"]["items"]
    assert [line.split(":")[0] for line in models] == list(REGISTRY)
    # the isolated cache has no depth model: it is missing, optional, and fetchable
    assert "depth: missing (optional: lens style)" in models
    assert "livebokeh models fetch" in report["models"]["fix"]
    assert report["models"]["ok"]  # the shipped selfie/face models are enough to run


@pytest.mark.skipif(not LINUX or os.path.isdir("/sys/module/v4l2loopback"),
                    reason="needs Linux without v4l2loopback")
def test_missing_v4l2loopback_says_how_to_load_it():
    section = run_checks()["virtual camera"]
    assert not section["ok"]
    assert "v4l2loopback module: not loaded" in section["items"]
    assert any("sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livebokeh"
               in step for step in section["fix"])


def test_gpu_section_says_how_to_install_cupy_when_absent():
    section = run_checks()["gpu"]
    try:
        import cupy  # noqa: F401
    except ImportError:
        assert any(item.startswith("cpu: CuPy not installed") for item in section["items"])
        assert any("pip install 'livebokeh[gpu]'" in step for step in section["fix"])
        assert section["optional"] and "gpu: optional, not available" in format_report(
            run_checks())
    assert any(item.startswith("onnxruntime providers:") for item in section["items"])


@pytest.fixture
def fake_sysfs(tmp_path):
    """/dev/video0 (a USB webcam) and /dev/video4 (v4l2loopback), the way sysfs links them."""
    sys_root, dev_root = tmp_path / "sys", tmp_path / "dev"
    devices = {"video0": ("devices/pci0000:00/usb1/1-1/video4linux/video0", "HD Webcam C920"),
               "video4": ("devices/virtual/video4linux/video4", "livebokeh")}
    (sys_root / "class" / "video4linux").mkdir(parents=True)
    dev_root.mkdir()
    for node, (where, name) in devices.items():
        (sys_root / where).mkdir(parents=True)
        (sys_root / where / "name").write_text(name + "\n")
        (sys_root / "class" / "video4linux" / node).symlink_to(sys_root / where)
        (dev_root / node).touch()
    (sys_root / "module" / "v4l2loopback").mkdir(parents=True)
    return sys_root, dev_root


@pytest.mark.skipif(not LINUX, reason="sysfs layout")
def test_webcam_and_loopback_are_told_apart(fake_sysfs):
    sys_root, dev_root = fake_sysfs
    assert video_devices(sys_root, dev_root) == [
        {"path": str(dev_root / "video0"), "name": "HD Webcam C920", "loopback": False},
        {"path": str(dev_root / "video4"), "name": "livebokeh", "loopback": True},
    ]
    report = run_checks(sys_root, dev_root)
    assert report["cameras"]["ok"] and report["cameras"]["items"] == [
        f"{dev_root / 'video0'}: HD Webcam C920"]
    vcam = report["virtual camera"]
    assert vcam["ok"] and not vcam["fix"]
    assert f"{dev_root / 'video4'}: livebokeh (loopback)" in vcam["items"]
    assert "v4l2loopback module: loaded" in vcam["items"]


@pytest.mark.skipif(not LINUX, reason="sysfs layout")
def test_no_camera_says_so(tmp_path):
    (tmp_path / "dev").mkdir()
    report = run_checks(tmp_path / "sys", tmp_path / "dev")
    assert not report["cameras"]["ok"] and report["cameras"]["items"] == ["no camera found"]
    assert "cameras: MISSING" in format_report(report)
