"""people="all" keeps everyone sharp; people="main" keeps one person and blurs bystanders.

Scenes: two real people (people-masks photos cut out with their masks) over a real
person-free background, as a photo and as a short video in which both walk.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import LEFT_PERSON, RIGHT_PERSON, two_people_photo, two_people_scene
from livebokeh.app.cli import main
from livebokeh.errors import LivebokehError
from livebokeh.io.images import read_image
from livebokeh.perception.subject import MIN_BLOB_SHARE, _blobs
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings


def mean_in(matte: np.ndarray, box) -> float:
    h, w = matte.shape
    x0, y0, x1, y1 = box
    return float(matte[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].mean())


def photo_matte(**settings) -> np.ndarray:
    with BokehProcessor(BokehSettings(grain="off", **settings), video=False) as processor:
        return processor.compute_matte(two_people_scene()).copy()


def test_all_keeps_both_and_main_keeps_the_one_named():
    everyone = photo_matte()
    assert mean_in(everyone, LEFT_PERSON) > 0.8 and mean_in(everyone, RIGHT_PERSON) > 0.8
    left = photo_matte(people="main", subject=(0.2, 0.6))
    assert mean_in(left, LEFT_PERSON) > 0.8 and mean_in(left, RIGHT_PERSON) < 0.05
    right = photo_matte(people="main", subject=(0.7, 0.6))
    assert mean_in(right, RIGHT_PERSON) > 0.8 and mean_in(right, LEFT_PERSON) < 0.05


def test_main_without_a_point_takes_the_largest_most_central_person():
    scene = np.ascontiguousarray(two_people_scene()[:, 200:])  # the left one half cut off
    with BokehProcessor(BokehSettings(people="main"), video=False) as processor:
        matte = processor.compute_matte(scene)
    h, w = matte.shape
    assert matte[int(0.6 * h), int(0.66 * 960) - 200] > 0.8  # the whole, central person
    assert matte[int(0.6 * h), 30] < 0.05  # the cut-off one


def test_video_main_subject_is_tracked_and_can_be_switched_live():
    frames = [two_people_scene(shift=2 * t) for t in range(12)]
    settings = BokehSettings(people="main", subject=(0.2, 0.6), grain="off")
    with BokehProcessor(settings, video=True) as processor:
        mattes = [processor.compute_matte(f, 40 * t).copy() for t, f in enumerate(frames[:6])]
        processor.update_settings(dataclasses.replace(settings, subject=(0.72, 0.6)))
        mattes += [processor.compute_matte(f, 40 * t).copy()
                   for t, f in enumerate(frames[6:], 6)]
    for matte in mattes[:6]:  # the left person only, frame after frame
        assert mean_in(matte, LEFT_PERSON) > 0.8 and mean_in(matte, RIGHT_PERSON) < 0.05
    for matte in mattes[7:]:  # after the switch: the right person only
        assert mean_in(matte, RIGHT_PERSON) > 0.8 and mean_in(matte, LEFT_PERSON) < 0.05


def test_cli_people_and_subject(tmp_path):
    photo = two_people_photo(tmp_path / "two.png")
    out = tmp_path / "out.png"
    run = CliRunner().invoke(main, ["photo", str(photo), "-o", str(out), "--people", "main",
                                    "--subject", "0.7,0.6", "--strength", "60",
                                    "--save-matte", str(tmp_path / "matte.png")])
    assert run.exit_code == 0, run.output
    matte = read_image(tmp_path / "matte.png")[0][..., 0] / 255.0
    assert mean_in(matte, RIGHT_PERSON) > 0.8 and mean_in(matte, LEFT_PERSON) < 0.05
    bad = CliRunner().invoke(main, ["photo", str(photo), "-o", str(out), "--subject", "3,1"])
    assert bad.exit_code == 2 and "0..1" in bad.output
    bad = CliRunner().invoke(main, ["photo", str(photo), "-o", str(out), "--people", "some"])
    assert bad.exit_code == 2


def test_settings_refuse_bad_people_values():
    with pytest.raises(LivebokehError, match="people"):
        BokehSettings(people="few")
    with pytest.raises(LivebokehError, match="subject"):
        BokehSettings(subject=(1.5, 0.2))


def test_small_blobs_are_dropped_at_the_documented_share():
    confidence = np.zeros((100, 200), np.float32)
    confidence[10:60, 20:60] = 0.9  # a person: 10 % of the grid
    side = int(np.sqrt(MIN_BLOB_SHARE * confidence.size)) + 1
    confidence[80:80 + side, 150:150 + side] = 0.9  # just above the share: kept
    confidence[5:7, 180:182] = 0.9  # 4 px, well under it: dropped
    labels, stats = _blobs(confidence, MIN_BLOB_SHARE * confidence.size)
    kept = [i for i in range(len(stats)) if stats[i, 4] > 0]
    assert len(kept) == 2
    assert labels[6, 181] not in kept and labels[30, 30] in kept and labels[80, 150] in kept


def test_segmenter_choice_sets_the_crop_model():
    """auto: the square general model on one standing person, the 16:9 one on a wide group;
    landscape: always the cheaper 16:9 model."""
    from livebokeh.perception.subject import SubjectFinder

    scene = two_people_scene()
    one = np.ascontiguousarray(scene[:, :480])  # the left person alone
    gap = scene[:, 400:560]  # background between them, doubled: the two stand far apart
    wide = np.ascontiguousarray(np.hstack([scene[:, :400], gap[:, ::-1], gap, scene[:, 560:]]))
    for frame, choice, model in ((one, "auto", "selfie"), (wide, "auto", "selfie-landscape"),
                                 (one, "landscape", "selfie-landscape")):
        with SubjectFinder(model=choice) as finder:
            finder.find(frame, 0)
            person = finder.find(frame, 33)
        assert person.model == model and person.seen.shape[:2] == \
            ((256, 256) if model == "selfie" else (144, 256)), (choice, person.model)
