"""``livebokeh doctor``: what livebokeh can use on this machine, and how to fix what is not there.

Each check returns a section: ``ok`` (bool), ``optional`` (livebokeh works without it),
``items`` (what was found, one line each) and ``fix`` (what to do, empty when nothing is
missing). The report never fails: exit code 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from livebokeh.io.sinks import LINUX_SETUP, display_available, vcam_setup_hint


def _section(ok: bool, items: list[str], fix: list[str], optional: bool = False) -> dict:
    return {"ok": ok, "optional": optional, "items": items, "fix": fix}


def video_devices(sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")) -> list[dict]:
    """Linux video devices: path, name (from sysfs) and whether it is a v4l2loopback device.

    A loopback device sits under /sys/devices/virtual; a camera under its USB/PCI bus.
    """
    devices = []
    for node in sorted(dev_root.glob("video*"), key=lambda p: (len(p.name), p.name)):
        sysfs = sys_root / "class" / "video4linux" / node.name
        name_file = sysfs / "name"
        name = name_file.read_text().strip() if name_file.is_file() else "?"
        loopback = "/devices/virtual/" in str(sysfs.resolve()) if sysfs.exists() else False
        devices.append({"path": str(node), "name": name, "loopback": loopback})
    return devices


def _probe_indices(count: int = 4) -> list[str]:
    """Camera indices OpenCV can open (non-Linux systems have no device files to list)."""
    import cv2

    found = []
    for index in range(count):
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            found.append(f"camera {index}")
        capture.release()
    return found


def check_cameras(devices: list[dict] | None) -> dict:
    """Real cameras (not loopback devices)."""
    if devices is None:
        cameras = _probe_indices()
    else:
        cameras = [f"{d['path']}: {d['name']}" for d in devices if not d["loopback"]]
    fix = [] if cameras else ["connect a webcam (or test with a file: livebokeh cam --camera "
                              "clip.mp4 --loop)"]
    return _section(bool(cameras), cameras or ["no camera found"], fix)


def check_virtual_camera(devices: list[dict] | None, sys_root: Path = Path("/sys")) -> dict:
    """Linux: v4l2loopback loaded and its devices; elsewhere: pyvirtualcam's backends."""
    import pyvirtualcam

    backends = list(pyvirtualcam.camera.BACKENDS)
    items = [f"pyvirtualcam backends: {', '.join(backends) or 'none'}"]
    if devices is None:
        return _section(bool(backends), items + ["the OBS Virtual Camera is checked when "
                                                 "livebokeh cam starts"],
                        [] if backends else [vcam_setup_hint()])
    loaded = (sys_root / "module" / "v4l2loopback").is_dir()
    loopbacks = [f"{d['path']}: {d['name']} (loopback)" for d in devices if d["loopback"]]
    items.append(f"v4l2loopback module: {'loaded' if loaded else 'not loaded'}")
    items += loopbacks or ["no loopback device"]
    ok = loaded and bool(loopbacks)
    return _section(ok, items, [] if ok else [f"run: {LINUX_SETUP}",
                                              "or use livebokeh cam --no-vcam --preview"])


def check_gpu() -> dict:
    """The render backend ``--backend auto`` picks and why (``backend.select_backend``)."""
    from livebokeh.render.backend import cuda_problem, select_backend

    problem = cuda_problem()
    items = [select_backend("auto")[1]]
    fix = []
    if problem is not None and "not installed" in problem:
        fix.append("optional, for GPU rendering: pip install 'livebokeh[gpu]'")
    elif problem is not None:
        fix.append("install the NVIDIA driver and a CUDA 12 runtime matching cupy-cuda12x "
                   "(check with nvidia-smi)")
    import onnxruntime

    items.append(f"onnxruntime providers: {', '.join(onnxruntime.get_available_providers())}")
    return _section(problem is None, items, fix, optional=True)


def check_models() -> dict:
    """Every registered model: where it was found and whether its sha256 matches."""
    from livebokeh.models import REGISTRY, find_model, sha256_of

    items, fix, ok = [], [], True
    for spec in REGISTRY.values():
        found = find_model(spec.name)
        fetched = spec.url is not None  # downloaded on request (depth: lens style only)
        if found is None:
            items.append(f"{spec.name}: missing" + (" (optional: lens style)" if fetched else ""))
            fix.append("livebokeh models fetch" if fetched else
                       f"{spec.name}: reinstall livebokeh (the packaged model is missing)")
            ok = ok and fetched
        elif sha256_of(found.path) != spec.sha256:
            items.append(f"{spec.name}: CORRUPT {found.path}")
            fix.append(f"delete {found.path} and run livebokeh models fetch")
            ok = False
        else:
            items.append(f"{spec.name}: ok ({found.origin}: {found.path})")
    return _section(ok, items, fix)


def check_display() -> dict:
    ok = display_available()
    found = "display available" if ok else "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    fix = [] if ok else ["--preview needs a desktop session"]
    return _section(ok, [found], fix, optional=True)


def run_checks(sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")) -> dict:
    """All sections by name; ``sys_root``/``dev_root`` let tests point at a fake sysfs."""
    devices = video_devices(sys_root, dev_root) if sys.platform.startswith("linux") else None
    return {
        "cameras": check_cameras(devices),
        "virtual camera": check_virtual_camera(devices, sys_root),
        "gpu": check_gpu(),
        "models": check_models(),
        "preview window": check_display(),
    }


def format_report(report: dict) -> str:
    """Plain text: one block per section, OK or MISSING, found items, then what to do."""
    lines = []
    for name, section in report.items():
        state = "OK" if section["ok"] else "optional, not available" if section["optional"] \
            else "MISSING"
        lines.append(f"{name}: {state}")
        lines += [f"  {item}" for item in section["items"]]
        lines += [f"  fix: {step}" for step in section["fix"]]
    return "\n".join(lines)
