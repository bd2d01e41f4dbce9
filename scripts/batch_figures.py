"""Measure the batch figures of the README: throughput by workers, a long video split or not,
and the per-frame time and bytes that the cluster estimate is built from.

    python scripts/batch_figures.py --work /tmp/batch-figures --json docs/batch-figures.json

Clips are made from the real tennis-vest frames (../shared, looped back and forth, resized)
when present, else from livebokeh's generated scene. Configurations take turns (1 worker, 2
workers, 1, 2, ...) so that load from other processes falls on both; the load average is
recorded with every run. Nothing here is asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from livebokeh import BatchJob, BokehSettings, run_batch
from livebokeh.app.bench import generated_frames

TENNIS = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "tennis-vest"
FPS = 25


def source_frames(size: tuple[int, int]) -> tuple[list[np.ndarray], str]:
    """One back-and-forth loop of the real frames (no jump at the loop), or generated ones."""
    paths = sorted(TENNIS.glob("*.jpg"))
    if not paths:
        return generated_frames(*size, 60), "generated scene"
    frames = [cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), size,
                         interpolation=cv2.INTER_AREA) for p in paths]
    return frames + frames[-2:0:-1], "tennis-vest (real, looped back and forth)"


def make_video(path: Path, seconds: float, size: tuple[int, int]) -> Path:
    """H.264 (x264 defaults: a keyframe at least every 250 frames) with an AAC tone."""
    frames, _ = source_frames(size)
    count = round(seconds * FPS)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        audio = out.add_stream("aac", rate=44100, layout="mono")
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 44100)) / 44100))
        for start in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024].astype(np.float32),
                                               format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = 44100, start
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return path


def children_cpu_seconds() -> float:
    """CPU time (user + system) of the finished child processes: the pool's workers."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_batch(jobs: list[BatchJob], **options) -> dict:
    """One run: wall time, frames per second, and the cores the workers kept busy.

    ``cores_busy`` (worker CPU seconds / wall seconds) does not depend on the load from
    other processes the way wall time does: it says how much of the machine a
    configuration can use.
    """
    load = os.getloadavg()[0]
    cpu = children_cpu_seconds()
    started = time.perf_counter()
    rows = run_batch(jobs, overwrite=True, progress=False, **options)
    wall = time.perf_counter() - started
    cpu = children_cpu_seconds() - cpu
    assert all(row["status"] == "ok" for row in rows), rows
    frames = sum(row["frames"] for row in rows)
    return {"wall_s": round(wall, 2), "frames": frames, "fps": round(frames / wall, 2),
            "worker_s": round(sum(row["seconds"] for row in rows), 2),
            "cpu_ms_per_frame": round(1000 * cpu / frames, 1),
            "cores_busy": round(cpu / wall, 2),
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def throughput(work: Path, size, videos: int, minutes: float, repeat: int) -> dict:
    """fps of 1 and 2 workers over ``videos`` clips, taking turns; whole videos, no splits."""
    clips = [make_video(work / f"talk{i}.mp4", minutes * 60, size) for i in range(videos)]
    out = work / "out"
    out.mkdir(exist_ok=True)
    jobs = [BatchJob(clip, out / clip.name, BokehSettings()) for clip in clips]
    runs: dict[str, list[dict]] = {"1 worker": [], "2 workers": []}
    for _ in range(repeat):
        runs["1 worker"].append(timed_batch(jobs, workers=1, segment_seconds=0))
        runs["2 workers"].append(timed_batch(jobs, workers=2, segment_seconds=0))
    medians = {name: statistics.median(r["fps"] for r in rs) for name, rs in runs.items()}
    ratios = [two["fps"] / one["fps"]
              for one, two in zip(runs["1 worker"], runs["2 workers"], strict=True)]
    return {"runs": runs, "median_fps": medians, "ratio_2_vs_1": round(medians["2 workers"] /
            medians["1 worker"], 2), "paired_ratios": [round(r, 2) for r in ratios],
            "median_cores_busy": {name: statistics.median(r["cores_busy"] for r in rs)
                                  for name, rs in runs.items()},
            "median_cpu_ms_per_frame": {name: statistics.median(r["cpu_ms_per_frame"]
                                                                for r in rs)
                                        for name, rs in runs.items()}}


def long_video(work: Path, size, minutes: float, repeat: int) -> dict:
    """One long video: a single pass on one worker (both cores) vs auto segments on two."""
    clip = make_video(work / "lecture.mp4", minutes * 60, size)
    out = work / "long-out"
    out.mkdir(exist_ok=True)
    jobs = [BatchJob(clip, out / clip.name, BokehSettings())]
    runs: dict[str, list[dict]] = {"single pass, 1 worker": [], "segments, 2 workers": []}
    for _ in range(repeat):
        runs["single pass, 1 worker"].append(timed_batch(jobs, workers=1, segment_seconds=0))
        runs["segments, 2 workers"].append(timed_batch(jobs, workers=2))
    medians = {name: statistics.median(r["wall_s"] for r in rs) for name, rs in runs.items()}
    return {"runs": runs, "median_wall_s": medians}


def per_frame_1080p(work: Path, seconds: float) -> dict:
    """One worker on one core at 1920x1080: ms per frame, and bytes per frame in and out."""
    clip = make_video(work / "hd.mp4", seconds, (1920, 1080))
    out = work / "hd-out"
    out.mkdir(exist_ok=True)
    run = timed_batch([BatchJob(clip, out / clip.name, BokehSettings())], workers=1,
                      threads=1, segment_seconds=0)
    frames = run["frames"]
    return {**run, "ms_per_frame_one_core": round(1000 * run["worker_s"] / frames, 1),
            "input_bytes_per_frame": round(clip.stat().st_size / frames),
            "output_bytes_per_frame": round((out / clip.name).stat().st_size / frames)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for clips and outputs")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--long-minutes", type=float, default=4.0)
    parser.add_argument("--hd-seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=["throughput", "long", "hd"], action="append")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    args.work.mkdir(parents=True, exist_ok=True)
    figures = {"machine": {"cores": os.cpu_count(), "platform": sys.platform},
               "size": args.size, "content": source_frames((64, 36))[1]}
    steps = args.only or ["throughput", "long", "hd"]
    if "throughput" in steps:
        figures["throughput"] = throughput(args.work, size, args.videos, args.minutes,
                                           args.repeat)
    if "long" in steps:
        figures["long_video"] = long_video(args.work, size, args.long_minutes, args.repeat)
    if "hd" in steps:
        figures["per_frame_1080p"] = per_frame_1080p(args.work, args.hd_seconds)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
