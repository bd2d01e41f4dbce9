"""The live loop: newest camera frame → BokehProcessor → virtual camera / preview.

Latency first: the loop always takes the newest frame; when processing is slower than the
camera, the frames in between are skipped (counted), never queued. While the camera is
away the outputs repeat the last output frame at the camera's fps, so video-call apps keep
a picture. SIGTERM and Ctrl-C stop the loop cleanly; the caller then joins the source
thread and closes the outputs. One output buffer is reused for every frame.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from livebokeh.errors import LivebokehError
from livebokeh.io.sinks import FrameSink, LiveControls, handle_key
from livebokeh.io.sources import FrameSource
from livebokeh.settings import BokehSettings
from livebokeh.threads import available_cores, limit_threads, resolve_threads

HOLD_AFTER_S = 0.25  # no new frame for this long: repeat the last output frame
STATS_EVERY_S = 2.0
WARMUP_FRAMES = 30  # RSS growth is measured from here (models and buffers are allocated)


def _stderr(line: str) -> None:
    print(f"livebokeh: {line}", file=sys.stderr, flush=True)


def rss_mb() -> float | None:
    """Resident memory of this process in MiB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    """CPU time this process has used so far (user + system, every thread), in seconds."""
    times = os.times()
    return times.user + times.system


def cpu_percent(cpu_since: float, seconds: float) -> float:
    """This process's CPU use since ``cpu_since`` (``cpu_seconds``) over ``seconds`` of
    wall time, in percent of one core (up to 100 times the cores): with frames skipped,
    near the ceiling says the machine is full, well under it says something waits."""
    return round(100.0 * (cpu_seconds() - cpu_since) / max(seconds, 1e-9), 1)


class MsHistogram:
    """Milliseconds in 0.1 ms bins up to 5 s: exact-enough quantiles in constant memory."""

    BIN_MS = 0.1
    BINS = 50_000

    def __init__(self):
        self.counts = np.zeros(self.BINS, np.int64)
        self.n = 0

    def add(self, ms: float) -> None:
        self.counts[min(self.BINS - 1, max(0, int(ms / self.BIN_MS)))] += 1
        self.n += 1

    def quantile(self, q: float) -> float | None:
        if self.n == 0:
            return None
        rank = int(np.searchsorted(np.cumsum(self.counts), q * self.n, side="left"))
        return (rank + 0.5) * self.BIN_MS

    def reset(self) -> None:
        self.counts.fill(0)
        self.n = 0


@dataclass
class StageStats:
    """Latency (capture → sent) and per-stage processing times, in milliseconds."""

    latency: MsHistogram = field(default_factory=MsHistogram)
    stages: dict[str, MsHistogram] = field(default_factory=dict)
    frames: int = 0

    def add(self, timings_ms: dict[str, float], latency_ms: float) -> None:
        self.frames += 1
        self.latency.add(latency_ms)
        for stage, ms in timings_ms.items():
            self.stages.setdefault(stage, MsHistogram()).add(ms)

    def medians(self) -> dict[str, float]:
        return {stage: round(h.quantile(0.5), 1) for stage, h in self.stages.items() if h.n}

    def reset(self) -> None:
        self.frames = 0
        self.latency.reset()
        for histogram in self.stages.values():
            histogram.reset()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


class LiveLoop:
    """Runs ``source`` through a BokehProcessor into ``sinks`` until stopped.

    Stops on ``stop()`` (thread- and signal-safe), a quit key, ``max_frames`` output
    frames, ``max_seconds``, or the end of a file source. ``stats_every`` (seconds, None:
    quiet) prints fps, latency, skipped frames and stage times through ``log``. The
    processor is rebuilt when a key changes the style or focus; strength applies at once.
    """

    def __init__(self, source: FrameSource, sinks: Sequence[FrameSink], settings: BokehSettings,
                 stats_every: float | None = None, max_frames: int | None = None,
                 max_seconds: float | None = None, log: Callable[[str], None] = _stderr,
                 web=None, threads: int | None = None):
        self.threads = resolve_threads(threads)  # > 1: perception runs ahead on a thread
        self.source = source
        self.sinks = list(sinks)
        self.web = web  # server.LiveServer (--serve): live settings in, frames out
        self.settings = settings
        self.controls = LiveControls(settings.style, float(settings.strength), settings.focus)
        self.stats_every = stats_every
        self.max_frames = max_frames
        self.max_seconds = max_seconds
        self.log = log
        self.size = (source.width, source.height)
        self._stop = threading.Event()
        self._processor = None
        self._out = np.empty((source.height, source.width, 3), np.uint8)
        self._fitted: np.ndarray | None = None
        self._has_output = False
        self._last_timestamp_ms = -1
        self._total = StageStats()
        self._window = StageStats()
        self.hold_frames = 0
        self.rss_after_warmup: float | None = None
        # at the warm-up frame: time, frames produced, frames skipped, CPU seconds
        self._warm: tuple[float, int, int, float] | None = None
        self._started = time.monotonic()
        self._elapsed = 0.0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> dict:
        """Run until a stop condition; returns the summary (see ``summary``)."""
        from livebokeh.pipeline import BokehProcessor

        self._processor = BokehProcessor(self.settings, video=True)
        self._started = time.monotonic()
        window_start, skipped_before = self._started, self.source.frames_skipped
        window_cpu = cpu_seconds()
        last_output, was_connected = self._started, True
        ahead = _PerceptionAhead(self) if self.threads > 1 else None
        try:
            while not self._should_stop():
                if ahead is None:
                    frame = self.source.read(timeout=1.0 / self.source.fps)
                else:
                    frame = ahead.take(timeout=1.0 / self.source.fps)
                if was_connected != self.source.connected:
                    was_connected = self._report_connection(last_output)
                if frame is None:
                    if self.source.ended and (ahead is None or ahead.drained):
                        break  # the file ended and its last frame, if any, was finished
                    if not self.source.connected or time.monotonic() - last_output > HOLD_AFTER_S:
                        self._hold()
                    continue
                self._process(frame.rgb, frame.capture_time, getattr(frame, "perception", None))
                last_output = time.monotonic()
                if self.stats_every and last_output - window_start >= self.stats_every:
                    self.log(self._window_line(last_output - window_start,
                                               self.source.frames_skipped - skipped_before,
                                               window_cpu))
                    window_start, skipped_before = last_output, self.source.frames_skipped
                    window_cpu = cpu_seconds()
                    self._window.reset()
        finally:
            if ahead is not None:
                ahead.close()
            self._elapsed = time.monotonic() - self._started
            self._processor.close()
        return self.summary()

    def _should_stop(self) -> bool:
        if self._stop.is_set() or self.controls.quit:
            return True
        if self.max_frames is not None and self._total.frames >= self.max_frames:
            return True
        return self.max_seconds is not None and time.monotonic() - self._started >= self.max_seconds

    def _report_connection(self, last_output: float) -> bool:
        if self.source.connected:
            self.log(f"{self.source.name} is back after {time.monotonic() - last_output:.1f} s")
        else:
            self.log(f"{self.source.name} disconnected; retrying every "
                     f"{self.source.reconnect_s:g} s (outputs repeat the last frame)")
        return self.source.connected

    def _process(self, rgb: np.ndarray, capture_time: float, perception=None) -> None:
        """Finish (or, without ``perception``, process) one frame and send it out."""
        self._apply_web()
        self._apply_controls()
        rgb = self._fit(rgb)
        timings: dict[str, float] = {}
        matte = None
        if self.controls.blur:
            if perception is None:
                perception = self._processor.perceive(rgb, self._timestamp_ms(capture_time))
            result = self._processor.finish(rgb, perception, out=self._out)
            timings, matte = result.timings_ms, result.matte
        else:
            np.copyto(self._out, rgb)
        if self.web is not None:
            self.web.publish(self._out, rgb, matte)
        self._has_output = True
        self._send(self._out, hold=False)
        latency_ms = (time.monotonic() - capture_time) * 1e3
        self._total.add(timings, latency_ms)
        self._window.add(timings, latency_ms)
        if self._total.frames == WARMUP_FRAMES:
            self.rss_after_warmup = rss_mb()
            self._warm = (time.monotonic(), self.source.frames_produced,
                          self.source.frames_skipped, cpu_seconds())

    def _hold(self) -> None:
        if self._has_output:
            self._send(self._out, hold=True)
            self.hold_frames += 1

    def _send(self, image: np.ndarray, hold: bool) -> None:
        for sink in self.sinks:
            key = sink.hold(image) if hold else sink.send(image)
            if key >= 0:
                self.controls = handle_key(key, self.controls)

    def _fit(self, rgb: np.ndarray) -> np.ndarray:
        """The frame at the output size (a camera may come back from unplugging in another
        mode, but the virtual camera's size is fixed)."""
        if rgb.shape[:2] == self._out.shape[:2]:
            return rgb
        if self._fitted is None:
            self._fitted = np.empty_like(self._out)
        return cv2.resize(rgb, self.size, dst=self._fitted, interpolation=cv2.INTER_AREA)

    def _timestamp_ms(self, capture_time: float) -> int:
        """Strictly increasing milliseconds for MediaPipe's video mode."""
        stamp = max(int((capture_time - self._started) * 1e3), self._last_timestamp_ms + 1)
        self._last_timestamp_ms = stamp
        return stamp

    def _apply_web(self) -> None:
        """Take settings changed on the control page (--serve) into the processor."""
        settings = self.web.take_settings() if self.web is not None else None
        if settings is not None:
            self._processor.update_settings(settings)
            self.controls = replace(self.controls, style=settings.style,
                                    strength=settings.strength, focus=settings.focus,
                                    blur=self.web.enabled)

    def _apply_controls(self) -> None:
        """Make the processor follow the controls (keys); the stream state is kept."""
        c, s = self.controls, self._processor.settings
        if (c.style, c.focus) != (s.style, s.focus):
            try:
                self._processor.update_settings(replace(s, style=c.style, focus=c.focus,
                                                        strength=c.strength))
            except LivebokehError as exc:  # e.g. a broken depth model: keep the running style
                self.log(f"cannot switch to {c.style}: {exc}")
                self.controls = replace(c, style=s.style, focus=s.focus)
                return
            self.log(f"style {c.style}, strength {c.strength:g}, focus {c.focus}")
        elif c.strength != s.strength:
            s.strength = c.strength

    @property
    def processor(self):
        """The running ``BokehProcessor`` (None before ``run``)."""
        return self._processor

    def _window_line(self, seconds: float, skipped: int, cpu_since: float) -> str:
        w = self._window
        stages = " ".join(f"{k} {v:.1f}" for k, v in w.medians().items())
        state = "" if self.source.connected else " | DISCONNECTED"
        return (f"{w.frames / seconds:.1f} fps | latency {_ms(w.latency.quantile(0.5))} ms "
                f"(p95 {_ms(w.latency.quantile(0.95))}) | skipped {skipped} | "
                f"CPU {cpu_percent(cpu_since, seconds):.0f}% | stages ms: {stages or '-'}{state}")

    def summary(self) -> dict:
        """Counts, rates and medians for the whole run (JSON-ready)."""
        elapsed = max(self._elapsed, 1e-9)
        produced, skipped = self.source.frames_produced, self.source.frames_skipped
        rss_end = rss_mb()
        growth = None
        if rss_end is not None and self.rss_after_warmup is not None:
            growth = round(rss_end - self.rss_after_warmup, 1)
        return {
            "source": self.source.name, "width": self.size[0], "height": self.size[1],
            "source_fps": round(self.source.fps, 2), "style": self.controls.style,
            "strength": self.controls.strength, "seconds": round(elapsed, 2),
            "frames": self._total.frames, "fps": round(self._total.frames / elapsed, 2),
            "frames_produced": produced, "frames_skipped": skipped,
            "skipped_pct": round(100.0 * skipped / produced, 1) if produced else 0.0,
            "hold_frames": self.hold_frames, "reconnects": self.source.reconnects,
            "latency_ms": {"median": self._total.latency.quantile(0.5),
                           "p95": self._total.latency.quantile(0.95)},
            "stages_ms": self._total.medians(),
            "after_warmup": self._steady(),
            "rss_mb": {"after_warmup": self.rss_after_warmup, "end": rss_end,
                       "growth": growth},
        }

    def _steady(self) -> dict | None:
        """fps, skipped share and CPU use (``cpu_percent``, of ``cores`` times 100) from
        the warm-up frame on (model start-up excluded)."""
        if self._warm is None:
            return None
        since, produced, skipped, cpu = self._warm
        if self._total.frames <= WARMUP_FRAMES:  # the run ended at the warm-up
            return None
        seconds = max(self._started + self._elapsed - since, 1e-9)
        produced = self.source.frames_produced - produced
        skipped = self.source.frames_skipped - skipped
        return {"fps": round((self._total.frames - WARMUP_FRAMES) / seconds, 2),
                "skipped_pct": round(100.0 * skipped / produced, 1) if produced else 0.0,
                "cpu_percent": cpu_percent(cpu, seconds), "cores": available_cores()}


class _PerceivedFrame(NamedTuple):
    """A camera frame (owned copy) with its perception, handed from the worker to the loop."""

    rgb: np.ndarray
    capture_time: float
    perception: object


class _PerceptionAhead:
    """Segments and mattes the newest camera frame on a worker thread while the loop
    renders the last.

    One frame at a time: the worker reads the next frame only when the loop has taken the
    previous one, so a frame never waits in a queue. It waits at most while the frame before
    it is finished: with finishing shorter than a frame period, latency grows by less than
    one frame period, and throughput is set by the longer of the two stages instead of
    their sum. Frames are copied out of the source (whose buffers are reused) into two
    buffers used in turn, and mattes made into two: one being perceived, one being
    finished. A worker error is raised by ``take``.
    """

    def __init__(self, loop: LiveLoop):
        self.loop = loop
        self._slot: _PerceivedFrame | BaseException | None = None
        self._filled = threading.Condition()
        self._taken = threading.Event()
        self._taken.set()
        self._stop = threading.Event()
        self._buffers: list[np.ndarray] = []
        self._turn = 0
        from livebokeh.pipeline import MatteRing

        self._mattes = MatteRing(2)  # one being made, one being rendered
        self._thread = threading.Thread(target=self._work, name="livebokeh perceive",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        loop, source = self.loop, self.loop.source
        while not self._stop.is_set():
            if not self._taken.wait(0.1):
                continue
            frame = source.read(timeout=1.0 / source.fps)
            if frame is None:
                if source.ended:
                    return
                continue
            try:
                rgb = self._own(loop._fit(frame.rgb))
                matte = self._mattes.next(*rgb.shape[:2]) if loop.controls.blur else None
                item = _PerceivedFrame(rgb, frame.capture_time, loop._processor.perceive(
                    rgb, loop._timestamp_ms(frame.capture_time), matte))
            except BaseException as error:  # raised in the loop by take()
                item = error
            with self._filled:
                self._taken.clear()
                self._slot = item
                self._filled.notify_all()
            if isinstance(item, BaseException):
                return

    def _own(self, rgb: np.ndarray) -> np.ndarray:
        if not self._buffers or self._buffers[0].shape != rgb.shape:
            self._buffers = [np.empty_like(rgb) for _ in range(2)]
        self._turn ^= 1
        np.copyto(self._buffers[self._turn], rgb)
        return self._buffers[self._turn]

    @property
    def drained(self) -> bool:
        """Whether the worker has stopped and every frame it perceived was taken."""
        return not self._thread.is_alive() and self._slot is None

    def take(self, timeout: float) -> _PerceivedFrame | None:
        """The next perceived frame, waiting up to ``timeout`` s; None if none came."""
        with self._filled:
            if self._slot is None:
                self._filled.wait_for(lambda: self._slot is not None, timeout)
            item, self._slot = self._slot, None
        if item is None:
            return None
        self._taken.set()  # the worker starts on the next frame while this one is finished
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._taken.set()
        self._thread.join()


def format_summary(summary: dict) -> str:
    """The one-line end-of-run summary."""
    latency = summary["latency_ms"]
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary["stages_ms"].items()) or "-"
    steady = summary["after_warmup"]
    warm = "" if steady is None else (
        f"; after warm-up {steady['fps']:.1f} fps, {steady['skipped_pct']:.1f}% skipped, "
        f"CPU {steady['cpu_percent']:.0f}% of {100 * steady['cores']}%")
    return (f"summary: {summary['frames']} frames in {summary['seconds']:.1f} s "
            f"({summary['fps']:.1f} fps), skipped {summary['frames_skipped']} of "
            f"{summary['frames_produced']} camera frames ({summary['skipped_pct']:.1f}%), "
            f"latency median {_ms(latency['median'])} ms p95 {_ms(latency['p95'])} ms, "
            f"hold frames {summary['hold_frames']}, reconnects {summary['reconnects']}; "
            f"stage medians ms: {stages}{warm}")


@contextlib.contextmanager
def stop_on_signals(loop: LiveLoop) -> Iterator[None]:
    """SIGTERM and Ctrl-C stop ``loop`` cleanly (a second Ctrl-C interrupts at once).

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if signum == signal.SIGINT and loop.stopping:
            raise KeyboardInterrupt
        loop.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_live(source: FrameSource, sinks: Sequence[FrameSink], settings: BokehSettings,
             stats_every: float | None = None, max_frames: int | None = None,
             max_seconds: float | None = None, log: Callable[[str], None] = _stderr,
             web=None, threads: int | None = None) -> dict:
    """Run the live loop with signal handling; returns the summary. The caller owns (opens
    and closes) ``source``, ``sinks`` and ``web`` (a started server.LiveServer or None).
    ``threads``: cores to use (``livebokeh.threads``; 1: no stage runs ahead)."""
    loop = LiveLoop(source, sinks, settings, stats_every, max_frames, max_seconds, log, web,
                    threads)
    with stop_on_signals(loop):
        return loop.run()


def run_cam(settings: BokehSettings, camera: str = "0", loop: bool = False,
            size: tuple[int, int] | None = None, fps: float | None = None,
            vcam_device: str | None = None, vcam_backend: str | None = None,
            preview: bool = False, vcam: bool = True, stats: bool = False,
            max_frames: int | None = None, max_seconds: float | None = None,
            json_summary: Path | None = None, mask_path=None, matte_path=None,
            depth_map_path=None, depth_kind: str = "inverse",
            log: Callable[[str], None] = _stderr, serve: str | None = None,
            token: str | None = None, threads: int | None = None) -> dict:
    """The ``livebokeh cam`` job: open camera and outputs, run, close everything, summarise.

    ``threads``: CPU cores to keep busy (``livebokeh.threads``; default all): from 2 up the
    next frame is segmented while the current one is rendered.

    Exit codes (via LivebokehError): 1 bad input (unknown file, bad option), 2 a device is
    missing or busy (camera, virtual camera) or --preview without a display.
    """
    from livebokeh.app.inputs import load_still_inputs
    from livebokeh.io.sinks import PreviewSink, VirtualCameraSink
    from livebokeh.io.sources import open_source

    if settings.background == "transparent":
        raise LivebokehError("--background transparent needs an output with alpha; a camera "
                             "stream has none (use a colour or an image)")
    if json_summary is not None:
        from livebokeh.io.atomic import check_output_path, write_files_atomic

        check_output_path(Path(json_summary))
    with contextlib.ExitStack() as stack:
        sinks: list[FrameSink] = []
        if preview:
            sinks.append(stack.enter_context(contextlib.closing(PreviewSink())))
        source = stack.enter_context(contextlib.closing(open_source(camera, size, fps, loop)))
        load_still_inputs(settings, (source.width, source.height), mask_path, matte_path,
                          depth_map_path, depth_kind)
        if vcam:
            sinks.insert(0, stack.enter_context(contextlib.closing(VirtualCameraSink(
                source.width, source.height, source.fps, vcam_device, vcam_backend))))
        web = None
        if serve is not None:
            from livebokeh.app.server import LiveServer

            web = LiveServer(serve, settings, token).start()
            stack.callback(web.close)
        outputs = ", ".join([sink.description for sink in sinks]
                            + ([f"control page {web.url}"] if web else [])) or "no output"
        log(f"{source.name} {source.width}x{source.height} @{source.fps:g} fps -> {outputs}; "
            f"Ctrl-C to stop")
        summary = run_live(source, sinks, settings, STATS_EVERY_S if stats else None,
                           max_frames, max_seconds, log, web, limit_threads(threads))
    log(format_summary(summary))
    if json_summary is not None:
        write_files_atomic({Path(json_summary): (json.dumps(summary, indent=2) + "\n").encode()})
    return summary
