"""The batch on Ray: real actors on a real local Ray started once for this module.

Skipped with one line where Ray is not installed (``pip install "livebokeh[ray]"``).
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from clips import make_generated_clip
from livebokeh import BatchJob, run_batch

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'livebokeh[ray]')")

SMALL = (320, 180)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """Two CPUs, no dashboard, a small object store (only tasks and results travel), no
    usage stats; ``run_batch(ray=True)`` uses this connection instead of starting its own."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024 * 1024,
             logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray-inputs")
    make_generated_clip(folder / "a.mp4", frames=30, size=SMALL)
    make_generated_clip(folder / "b.mkv", frames=20, size=SMALL, audio=None)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    return folder


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def jobs(folder: Path, out: Path, crf: int = 0) -> list[BatchJob]:
    out.mkdir()
    return [BatchJob(folder / name, out / name, crf=crf)
            for name in ("a.mp4", "broken.mp4", "b.mkv")]


def actor_processes() -> dict[int, str]:
    """pid -> title of the batch actors on this machine (Ray names them ray::Class.method)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode().strip()
            except OSError:
                continue
            if title.startswith("ray::BatchActor"):
                found[int(entry.name)] = title
    return found


def test_ray_gives_the_pools_outputs_and_rows(inputs, tmp_path):
    on_ray = run_batch(jobs(inputs, tmp_path / "ray"), tmp_path / "ray.jsonl", ray=True)
    local = run_batch(jobs(inputs, tmp_path / "pool"), workers=2)
    assert sorted((Path(r["input"]).name, r["status"]) for r in on_ray) == \
        sorted((Path(r["input"]).name, r["status"]) for r in local)
    failed = [r for r in on_ray if r["status"] == "failed"]
    assert [Path(r["input"]).name for r in failed] == ["broken.mp4"]
    assert failed[0]["error"].startswith("cannot read video")  # a result, not an exception
    for name in ("a.mp4", "b.mkv"):  # lossless: identical pictures
        assert all(np.array_equal(x, y) for x, y in zip(
            decode(tmp_path / "ray" / name), decode(tmp_path / "pool" / name), strict=True))
    assert len((tmp_path / "ray.jsonl").read_text().splitlines()) == 3


def test_ray_runs_segments_of_a_long_video(tmp_path):
    clip = make_generated_clip(tmp_path / "long.mp4", frames=100, size=SMALL, gop=25)
    (tmp_path / "out").mkdir()
    [row] = run_batch([BatchJob(clip, tmp_path / "out" / "long.mp4")], ray=True,
                      segment_seconds=1.0)
    assert row["status"] == "ok" and row["frames"] == 100
    assert len(decode(tmp_path / "out" / "long.mp4")) == 100
    assert not list((tmp_path / "out").glob(".*"))


def test_a_killed_actor_is_replaced_and_its_item_retried(tmp_path):
    clip = make_generated_clip(tmp_path / "clip.mp4", frames=150, size=SMALL)
    out = tmp_path / "out"
    out.mkdir()
    rows: list[dict] = []
    runner = threading.Thread(target=lambda: rows.extend(run_batch(
        [BatchJob(clip, out / "clip.mp4")], workers=1, ray=True, segment_seconds=0)))
    runner.start()
    deadline = time.monotonic() + 120
    while not list(out.glob(".clip.*.partial.mp4")):
        assert time.monotonic() < deadline and runner.is_alive(), "no temp file appeared"
        time.sleep(0.02)
    [victim] = [pid for pid, title in actor_processes().items() if "run" in title]
    os.kill(victim, signal.SIGKILL)
    runner.join(180)
    assert [row["status"] for row in rows] == ["ok"] and rows[0]["frames"] == 150
    assert rows[0]["worker"].split(":")[1] != str(victim)  # a new actor did it
    assert len(decode(out / "clip.mp4")) == 150
    assert not list(out.glob(".*"))  # the killed actor's temp file is gone


def test_ctrl_c_on_ray_leaves_no_partial_output(tmp_path):
    """Ctrl-C in the driver (a real KeyboardInterrupt in the main thread, mid-run): the
    running tasks are cancelled, the actors killed, and no temp file or segment is left."""
    clip = make_generated_clip(tmp_path / "long.mp4", frames=150, size=SMALL, gop=25)
    out = tmp_path / "out"
    out.mkdir()

    def interrupt_when_writing():
        deadline = time.monotonic() + 120
        while not list(out.rglob(".*.partial.mp4")) and time.monotonic() < deadline:
            time.sleep(0.02)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_writing, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_batch([BatchJob(clip, out / "long.mp4")], out / "rows.jsonl", ray=True,
                  segment_seconds=2.0)
    assert not list(out.iterdir())  # nothing: no output, no temp file, no segment folder
    deadline = time.monotonic() + 30
    while any("run" in title for title in actor_processes().values()):  # killed: going
        assert time.monotonic() < deadline, actor_processes()
        time.sleep(0.1)
