"""Focus: ``--focus`` parsing, the focal plane for each mode, and the real BlazeFace detector
on real photos of people."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_person
from livebokeh.errors import LivebokehError
from livebokeh.eval.synthetic import make_scene
from livebokeh.imgops import shrink_to
from livebokeh.perception.focus import FaceFinder, focal_depth
from livebokeh.render.dof import subject_sample
from livebokeh.settings import FocusSpec, parse_focus


@pytest.mark.parametrize("text, expected", [
    ("auto", FocusSpec("auto")),
    (" Face ", FocusSpec("face")),
    ("0.5,0.4", FocusSpec("point", point=(0.5, 0.4))),
    ("0, 1", FocusSpec("point", point=(0.0, 1.0))),
    ("depth:0.7", FocusSpec("depth", depth=0.7)),
    ("DEPTH:1", FocusSpec("depth", depth=1.0)),
])
def test_parse_focus(text, expected):
    assert parse_focus(text) == expected


@pytest.mark.parametrize("text", ["", "centre", "0.5", "0.1,0.2,0.3", "1.5,0.2", "-0.1,0.5",
                                  "nan,0.5", "a,b", "depth:", "depth:2", "depth:x", "depth:-0.1"])
def test_parse_focus_rejects_bad_values_in_one_line(text):
    with pytest.raises(LivebokehError, match="focus must be") as caught:
        parse_focus(text)
    assert "\n" not in str(caught.value)


def scene() -> tuple[np.ndarray, np.ndarray]:
    """Inverse depth: far left half 0.2, right half 0.6, a near 'subject' square of 0.9."""
    depth = np.full((60, 80), 0.2, np.float32)
    depth[:, 40:] = 0.6
    depth[10:30, 50:70] = 0.9
    matte = np.zeros_like(depth)
    matte[10:30, 50:70] = 1.0
    return depth, matte


def test_auto_focuses_on_the_subject():
    depth, matte = scene()
    assert focal_depth(depth, matte, parse_focus("auto")) == pytest.approx(0.9)
    # A matte at another resolution (the frame's) is fine.
    big_matte = np.kron(matte, np.ones((3, 3), np.float32))
    assert focal_depth(depth, big_matte, parse_focus("auto")) == pytest.approx(0.9)


def test_auto_without_subject_uses_the_centre():
    depth, matte = scene()
    depth[24:36, 32:48] = 0.45  # the centre of the frame
    for no_subject in (None, np.zeros_like(matte), matte * 0.4):
        assert focal_depth(depth, no_subject, parse_focus("auto")) == pytest.approx(0.45)


def test_point_and_depth_modes():
    depth, matte = scene()
    assert focal_depth(depth, matte, parse_focus("0.1,0.9")) == pytest.approx(0.2)
    assert focal_depth(depth, matte, parse_focus("0.95,0.95")) == pytest.approx(0.6)
    assert focal_depth(depth, matte, parse_focus("1,1")) == pytest.approx(0.6)  # corner
    assert focal_depth(depth, matte, parse_focus("0,0")) == pytest.approx(0.2)
    assert focal_depth(depth, matte, parse_focus("depth:0.33")) == pytest.approx(0.33)


def test_face_mode_uses_the_box_and_falls_back_to_the_subject():
    depth, matte = scene()
    left_box = (0.05, 0.1, 0.3, 0.4)
    assert focal_depth(depth, matte, parse_focus("face"), face_box=left_box) == pytest.approx(0.2)
    assert focal_depth(depth, matte, parse_focus("face"), face_box=None) == pytest.approx(0.9)
    thin_box = (1.0, 1.0, 1.0, 1.0)  # degenerate boxes still read one pixel
    assert focal_depth(depth, matte, parse_focus("face"), face_box=thin_box) == pytest.approx(0.6)


@pytest.fixture(scope="module")
def faces():
    with FaceFinder() as finder:
        yield finder


def test_face_finder_finds_the_face_of_the_person(faces):
    found = 0
    for index in range(1, 11):
        rgb, mask = load_person(index)
        box = faces.find(rgb)
        if box is None:
            continue
        found += 1
        x0, y0, x1, y1 = box
        assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
        h, w = mask.shape
        inside = mask[int(y0 * h):int(np.ceil(y1 * h)), int(x0 * w):int(np.ceil(x1 * w))]
        assert inside.mean() > 0.8  # the face is on the person...
        assert (y0 + y1) / 2 < np.nonzero(mask)[0].mean() / h  # ...above their middle
    assert found >= 8  # measured: 9 of these 10 (18 of the first 20)


def test_face_finder_finds_nothing_in_a_blank_frame(faces):
    assert faces.find(np.full((480, 640, 3), 128, np.uint8)) is None
    assert faces.find(np.zeros((8, 8, 3), np.uint8)) is None


def test_face_finder_closes_twice():
    finder = FaceFinder()
    finder.close()
    finder.close()


def test_a_bilinear_sample_of_the_matte_finds_the_focal_depth_of_an_area_shrink():
    """``dof.subject_sample``: the frame-size matte sampled at the depth map's size."""
    _, _, matte = make_scene(1280, 720, seed=3)
    size = (320, 192)
    ys, xs = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    depth = 0.2 + 0.6 * xs / size[0] + 0.1 * ys / size[1]  # every column a different depth
    auto = parse_focus("auto")
    exact = focal_depth(depth, shrink_to(matte, size), auto)
    sampled = subject_sample(matte, size)
    assert sampled.shape == (size[1], size[0])
    assert focal_depth(depth, sampled, auto) == pytest.approx(exact, abs=0.005)
    shifted = np.roll(sampled, size[0] // 8, axis=1)  # the subject sampled 40 columns off
    assert abs(focal_depth(depth, shifted, auto) - exact) > 0.05
