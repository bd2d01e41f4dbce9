"""Stages on threads (``livebokeh.threads``) and the pipelined ``process_stream``.

Order, bounded look-ahead, errors raised where the consumer takes the item, no thread left
behind, the ``threads`` knob; ``process_stream`` gives exactly what ``process`` gives, frame
by frame, on real video frames.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import REPO, tennis_frames
from livebokeh.eval.metrics import psnr
from livebokeh.io.images import read_image
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings
from livebokeh.threads import ahead, available_cores, limit_threads, resolve_threads


def stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("livebokeh ")]


def test_ahead_keeps_order_and_applies_the_work():
    assert list(ahead(range(50), lambda x: x * x, depth=3)) == [x * x for x in range(50)]
    assert list(ahead(iter("abc"))) == ["a", "b", "c"]
    assert stage_threads() == []


def test_ahead_runs_the_work_on_another_thread_while_the_consumer_works():
    seen = []

    def work(item):
        seen.append(threading.current_thread().name)
        time.sleep(0.02)
        return item

    started = time.perf_counter()
    for _ in ahead(range(10), work, depth=1):
        time.sleep(0.02)  # the consumer's own stage
    overlapped = time.perf_counter() - started
    assert set(seen) == {"livebokeh stage"}
    assert overlapped < 0.9 * 10 * 0.04  # one after another would take 0.4 s


def test_ahead_reads_at_most_depth_plus_one_items_ahead():
    produced = []

    def items():
        for i in range(100):
            produced.append(i)
            yield i

    stream = ahead(items(), depth=2)
    assert next(stream) == 0
    time.sleep(0.2)  # let the worker run as far as it may
    assert len(produced) <= 1 + 2 + 1  # taken, queued, and the one waiting to be queued
    stream.close()
    assert stage_threads() == []


def test_an_error_in_a_stage_is_raised_after_the_items_before_it():
    def work(item):
        if item == 3:
            raise ValueError("bad frame 3")
        return item

    got = []
    with pytest.raises(ValueError, match="bad frame 3"):
        for item in ahead(range(10), work):
            got.append(item)
    assert got == [0, 1, 2]
    assert stage_threads() == []


def test_stopping_early_stops_and_joins_every_chained_stage():
    chained = ahead(ahead(range(1000), depth=2), lambda x: x + 1, depth=2)
    assert [next(chained) for _ in range(3)] == [1, 2, 3]
    assert len(stage_threads()) == 2
    chained.close()
    assert stage_threads() == []


def test_threads_knob():
    assert resolve_threads(None) == available_cores() >= 1
    assert resolve_threads(3) == 3
    with pytest.raises(ValueError):
        resolve_threads(0)
    before = cv2.getNumThreads()
    try:
        assert limit_threads(1) == 1 and cv2.getNumThreads() == 1
        assert limit_threads(8) == 8 and cv2.getNumThreads() == 6  # stages use ~2 cores
        assert limit_threads(8, overlapped=False) == 8 and cv2.getNumThreads() == 8
    finally:
        cv2.setNumThreads(before)


def far_above() -> np.ndarray:
    """A depth map (normalised inverse depth, 90x160): far at the top, near at the bottom.

    A given map is what makes the lens style deterministic (the model's map comes from a
    worker thread whenever it is ready)."""
    return np.repeat(np.linspace(0.0, 1.0, 90, dtype=np.float32)[:, None], 160, axis=1)


STREAM_SETTINGS = {
    "gaussian": BokehSettings(strength=40, grain="off"),
    # pipelined, the CoC and the frame's linear-light pass are made on the perception thread
    "lens": BokehSettings(style="lens", strength=40, grain="off", depth_map=far_above()),
}


def owned(result) -> tuple:
    return tuple(None if a is None else a.copy()
                 for a in (result.image, result.matte, result.coc, result.depth))


def assert_same_frames(got: list[tuple], expected: list[tuple]) -> None:
    assert len(got) == len(expected)
    for frame, want in zip(got, expected, strict=True):
        for a, b in zip(frame, want, strict=True):
            assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("style", STREAM_SETTINGS)
@pytest.mark.parametrize("threads", [1, 2])
def test_process_stream_gives_what_process_gives(threads, style):
    frames = tennis_frames()[:8]
    settings = STREAM_SETTINGS[style]
    with BokehProcessor(settings, video=True) as processor:
        expected = [owned(processor.process(rgb, 40 * i)) for i, rgb in enumerate(frames)]
    with BokehProcessor(settings, video=True) as processor:
        items = ((rgb, 40 * i) for i, rgb in enumerate(frames))
        got = [owned(r) for r in processor.process_stream(items, threads=threads)]
    assert_same_frames(got, expected)
    assert (expected[0][2] is not None) == (style == "lens")
    assert stage_threads() == []


def test_process_stream_with_motion_predictions_gives_what_process_gives():
    """On a slowly swaying portrait the smoother's carried state stands in for the model on
    most frames (``SubjectFinder.predictor``): with perception on a worker thread the
    predictions, and so the frames, are still exactly those of ``process``."""
    from livebokeh.app.bench import animated

    still, _ = read_image(REPO / "assets" / "portrait.jpg")
    frames = animated(cv2.resize(still, (640, 427), interpolation=cv2.INTER_AREA), 12)
    settings = STREAM_SETTINGS["gaussian"]
    with BokehProcessor(settings, video=True) as processor:
        expected = [owned(processor.process(rgb, 33 * i)) for i, rgb in enumerate(frames)]
        serial_passes = processor.finder.passes
    with BokehProcessor(settings, video=True) as processor:
        items = ((rgb, 33 * i) for i, rgb in enumerate(frames))
        got = [owned(r) for r in processor.process_stream(items, threads=2)]
        assert processor.finder.passes == serial_passes
    assert serial_passes <= 0.75 * len(frames)  # predictions did stand in for the model
    assert_same_frames(got, expected)


@pytest.mark.parametrize("style", STREAM_SETTINGS)
def test_process_stream_keeps_each_matte_until_its_frame_is_taken(style):
    """The worker makes mattes (and with the lens style the CoC) ahead, the mattes into a
    ring of buffers: a consumer slower than the worker must still get each frame's own
    matte, CoC and render (a ring one buffer short hands the worker a buffer still being
    rendered and fails this)."""
    frames = tennis_frames()[:10]
    settings = STREAM_SETTINGS[style]
    with BokehProcessor(settings, video=True) as processor:
        expected = [owned(processor.process(rgb, 40 * i)) for i, rgb in enumerate(frames)]
    got = []
    with BokehProcessor(settings, video=True) as processor:
        for r in processor.process_stream(((rgb, 40 * i) for i, rgb in enumerate(frames)),
                                          threads=2):
            time.sleep(0.03)  # the worker runs ahead while this frame is held
            got.append(owned(r))
    assert_same_frames(got, expected)


def test_a_style_change_mid_stream_applies_to_the_frames_finished_after_it():
    """Frames perceived ahead with the lens style but finished after a switch to gaussian
    are rendered and reported as gaussian frames (no CoC), and the switch back works."""
    frames = tennis_frames()[:9]
    lens, gaussian = STREAM_SETTINGS["lens"], STREAM_SETTINGS["gaussian"]
    references = {}
    for name, settings in (("gaussian", gaussian), ("lens", lens)):
        with BokehProcessor(settings, video=True) as processor:
            references[name] = processor.process(frames[4], 0).image.copy()
    got = []
    with BokehProcessor(lens, video=True) as processor:
        stream = processor.process_stream(((rgb, 40 * i) for i, rgb in enumerate(frames)),
                                          threads=2)
        for i, result in enumerate(stream):
            got.append((result.coc is not None, result.image.copy()))
            processor.update_settings({2: gaussian, 5: lens}.get(i, processor.settings))
    assert [has_coc for has_coc, _ in got] == [True] * 3 + [False] * 3 + [True] * 3
    # frame 4 alone in each style (the stream's matte has history, so not bit-identical)
    like = {name: psnr(got[4][1], image) for name, image in references.items()}
    assert like["gaussian"] > like["lens"] + 6, like
    assert stage_threads() == []


def test_a_style_switch_waits_for_the_frame_being_perceived_with_the_lens():
    """``update_settings`` on one thread while another makes a frame's lens work ahead:
    the switch waits for it, the frame keeps its CoC, and it then finishes as gaussian.
    (Before, the switch closed the depth of field under the perception thread.)"""
    frames = tennis_frames()[:2]
    with BokehProcessor(STREAM_SETTINGS["lens"], video=True) as processor:
        processor.process(frames[0], 0)
        inside, release = threading.Event(), threading.Event()
        prepare = processor.renderer.prepare

        def held_prepare(rgb, settings):  # holds the frame inside its lens work
            inside.set()
            release.wait(10)
            return prepare(rgb, settings)

        processor.renderer.prepare = held_prepare
        matte = np.empty(frames[1].shape[:2], np.float32)
        perceived = []
        worker = threading.Thread(
            target=lambda: perceived.append(processor.perceive(frames[1], 40, matte)))
        worker.start()
        assert inside.wait(10)
        switch = threading.Thread(target=processor.update_settings,
                                  args=(STREAM_SETTINGS["gaussian"],))
        switch.start()
        switch.join(0.3)
        assert switch.is_alive()  # waiting for the frame's lens work
        release.set()
        worker.join(10)
        switch.join(10)
        assert processor.dof is None and perceived and perceived[0].ahead.coc is not None
        result = processor.finish(frames[1], perceived[0])
        assert result.coc is None  # finished after the switch: a gaussian frame


def test_a_new_subject_is_taken_up_by_the_perceiving_thread():
    """The subject finder is the perception thread's: ``update_settings`` only records a new
    choice, and the next ``perceive`` applies it (no reset under a frame being found)."""
    frames = tennis_frames()[:2]
    settings = STREAM_SETTINGS["gaussian"]
    with BokehProcessor(settings, video=True) as processor:
        processor.process(frames[0], 0)
        processor.update_settings(dataclasses.replace(settings, people="main", subject=(0.5, 0.5)))
        assert (processor.finder.people, processor.finder.subject) == ("all", None)
        processor.perceive(frames[1], 40)
        assert (processor.finder.people, processor.finder.subject) == ("main", (0.5, 0.5))


def test_process_stream_takes_plain_frames_and_output_buffers():
    frames = tennis_frames()[:4]
    outs = [np.zeros_like(frames[0]) for _ in frames]
    with BokehProcessor(BokehSettings(grain="off"), video=True) as processor:
        results = list(processor.process_stream((rgb, None, out) for rgb, out in
                                                zip(frames, outs, strict=True)))
        assert all(r.image is out for r, out in zip(results, outs, strict=True))
        plain = [r.image.copy() for r in processor.process_stream(frames, threads=2)]
    assert all(out.any() for out in outs) and len(plain) == 4
