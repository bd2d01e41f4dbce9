"""Soak test: ``livebokeh cam --camera FILE --loop`` for a long run; RSS and open files stay flat.

The camera is a 2-second clip of the bundled portrait (panned), looped, so the file is
reopened every 2 s of video as a camera would be re-read; the output goes to a virtual camera
through a pyvirtualcam backend that counts frames and drops them (the device this machine
lacks), or nowhere with ``--vcam none`` (``--no-vcam``). The command runs as its own process;
its resident memory (VmRSS), open file descriptors and threads are sampled from /proc.

``--minutes`` is the length of video the run gets through: minutes x 60 x 30 output frames
(a 30 fps camera), processed as fast as the machine allows (the clip is paced at ``--fps``).
Growth is measured after warm-up (the first ``--warmup`` share of the run), as the least-
squares slope of RSS over frames and the spread of the descriptor and thread counts.

    python scripts/soak.py [--minutes 30] [--size 320x180] [--fps 240] [--vcam counting|none]
                           [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from livebokeh.app.bench import animated

REPO = Path(__file__).resolve().parents[1]
CAMERA_FPS = 30  # the frame rate the "minutes of video" are counted at
CLIP_SECONDS = 2

# Runs the real command line in the child, with a counting virtual camera registered.
LAUNCH = """
import sys
import pyvirtualcam
from pyvirtualcam.util import encode_fourcc

class CountingBackend:
    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.fourcc, self.frames = fourcc, 0
    def send(self, frame):
        self.frames += 1
    def close(self):
        pass
    def device(self):
        return "counting0"
    def native_fourcc(self):
        return self.fourcc

pyvirtualcam.register_backend("counting", CountingBackend)
from livebokeh.app.cli import main
main(sys.argv[1:], prog_name="livebokeh")
"""


def write_clip(path: Path, size: tuple[int, int]) -> Path:
    """``CLIP_SECONDS`` of the portrait panned along a closed loop, H.264 at 30 fps."""
    portrait = cv2.cvtColor(cv2.imread(str(REPO / "assets" / "portrait.jpg")), cv2.COLOR_BGR2RGB)
    frames = animated(cv2.resize(portrait, size, interpolation=cv2.INTER_AREA),
                      CLIP_SECONDS * CAMERA_FPS, amplitude=0.03)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=CAMERA_FPS)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, CAMERA_FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def sample(pid: int) -> dict | None:
    """RSS (MiB), open descriptors and threads of ``pid`` now; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "fds": fds,
            "threads": int(fields["Threads"])}


def soak(frames: int, size: tuple[int, int] = (320, 180), fps: float = 240,
         vcam: str = "counting", interval: float = 2.0, warmup: float = 0.2) -> dict:
    """Run the cam for ``frames`` output frames; samples, the cam's summary and the verdict."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "camera.mp4", size)
        summary_path = Path(tmp) / "summary.json"
        args = ["cam", "--camera", str(clip), "--loop", "--fps", f"{fps:g}", "--frames",
                str(frames), "--json-summary", str(summary_path)]
        args += ["--vcam-backend", "counting"] if vcam == "counting" else ["--no-vcam"]
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", LAUNCH, *args],
                                   stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        running = threading.Event()  # from the start line until the summary: the loop runs
        reader = threading.Thread(target=_follow, args=(process, lines, running), daemon=True)
        reader.start()
        samples = []
        while process.poll() is None:
            now = sample(process.pid) if running.is_set() else None
            if now is not None and running.is_set():
                samples.append({"s": round(time.monotonic() - started, 1), **now})
            time.sleep(interval)
        reader.join(timeout=10)
        if process.returncode != 0:
            raise SystemExit(f"cam failed ({process.returncode}): {''.join(lines)[-500:]}")
        summary = json.loads(summary_path.read_text())
    return {"frames": frames, "size": f"{size[0]}x{size[1]}", "vcam": vcam,
            "seconds": round(time.monotonic() - started, 1), "summary": summary,
            "samples": samples, **growth(samples, warmup)}


def _follow(process: subprocess.Popen, lines: list[str], running: threading.Event) -> None:
    """Collect the cam's stderr; ``running`` is set while its loop runs (start to summary)."""
    for line in process.stderr:
        lines.append(line)
        if "Ctrl-C to stop" in line:
            running.set()
        elif line.startswith("livebokeh: summary"):
            running.clear()


def growth(samples: list[dict], warmup: float) -> dict:
    """After warm-up: RSS first/last/max and slope (MiB per hour of run), fd/thread spread.

    The last sample is left out: the loop may have ended already, its threads being joined,
    before the summary line that stops the sampling is printed.
    """
    steady = samples[int(len(samples) * warmup):-1] or samples
    times = np.array([s["s"] for s in steady], np.float64)
    rss = np.array([s["rss_mb"] for s in steady], np.float64)
    slope = float(np.polyfit(times, rss, 1)[0]) * 3600 if len(steady) > 2 else 0.0
    return {
        "rss_mb_after_warmup": round(float(rss[0]), 1), "rss_mb_end": round(float(rss[-1]), 1),
        "rss_mb_max": round(float(rss.max()), 1), "rss_slope_mb_per_hour": round(slope, 1),
        "fds": sorted({s["fds"] for s in steady}),
        "threads": sorted({s["threads"] for s in steady}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="minutes of 30 fps video to get through")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--fps", type=float, default=240.0, help="pace of the looped clip")
    parser.add_argument("--vcam", choices=["counting", "none"], default="counting")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--json", type=Path, help="write every sample and the result here")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    result = soak(round(args.minutes * 60 * CAMERA_FPS), (width, height), args.fps, args.vcam,
                  args.interval)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    summary = result["summary"]
    print(f"{result['frames']} frames ({args.minutes:g} min at {CAMERA_FPS} fps) in "
          f"{result['seconds']:.0f} s; {summary['frames_produced']} read from the clip, "
          f"{summary['frames_skipped']} skipped")
    print(f"RSS after warm-up {result['rss_mb_after_warmup']} MiB, at the end "
          f"{result['rss_mb_end']} MiB, max {result['rss_mb_max']} MiB, slope "
          f"{result['rss_slope_mb_per_hour']} MiB/h; open files {result['fds']}, "
          f"threads {result['threads']}")


if __name__ == "__main__":
    main()
