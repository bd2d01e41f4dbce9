"""--config FILE (TOML or JSON): option values from a file, command line wins, clear errors."""

from __future__ import annotations

import json

import click
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from clips import make_clip
from conftest import PORTRAIT, REPO
from livebokeh.app.cli import cam, main, photo
from livebokeh.app.config import config_defaults


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("cfg") / "clip.mp4", frames=10, fps=30,
                     size=(160, 96), audio=None)


def write_config(folder, text: str):
    path = folder / "livebokeh.toml"
    path.write_text(text)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_file_sets_options_and_relative_paths_follow_the_file(clip, tmp_path, monkeypatch):
    config = write_config(tmp_path, f'camera = "{clip}"\nno-vcam = true\nframes = 3\n'
                                    'style = "motion"\nstrength = 55\n'
                                    'json_summary = "summary.json"\n')
    monkeypatch.chdir(tmp_path.parent)  # relative paths in the file are not relative to cwd
    result = run("cam", "--config", config)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["style"], summary["strength"], summary["frames"]) == ("motion", 55, 3)


def test_command_line_overrides_the_file(clip, tmp_path):
    config = write_config(tmp_path, f'camera = "{clip}"\nno_vcam = true\nframes = 2\n'
                                    f'strength = 55\nstyle = "motion"\n'
                                    f'json-summary = "{tmp_path / "s.json"}"\n')
    result = run("cam", "--strength", "20", "--config", config, "--frames", "4")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["style"], summary["strength"], summary["frames"]) == ("motion", 20, 4)


def test_unknown_key_names_it_and_the_valid_ones(tmp_path):
    config = write_config(tmp_path, "strenght = 40\n")
    result = run("cam", "--config", config)
    assert result.exit_code == 2
    assert "unknown key 'strenght'" in result.output
    assert "strength" in result.output and "vcam-backend" in result.output


def test_wrong_type_is_clicks_own_error(tmp_path):
    config = write_config(tmp_path, 'strength = "lots"\n')
    result = run("cam", "--config", config)
    assert result.exit_code == 2 and "Invalid value for '--strength'" in result.output


def test_malformed_toml_is_clear(tmp_path):
    config = write_config(tmp_path, "strength = = 3\n")
    result = run("cam", "--config", config)
    assert result.exit_code == 2 and "is not valid TOML" in result.output


def test_keys_by_option_or_parameter_name_dashes_or_underscores(tmp_path):
    path = tmp_path / "x.toml"
    table = {"segmenter": "landscape", "vcam-backend": "obs", "vcam_backend": "obs",
             "no-vcam": True, "segmenter_model": "general", "vcam": "/dev/video9"}
    defaults = config_defaults(cam, path, table)
    assert defaults == {"segmenter_model": "general", "vcam_backend": "obs", "no_vcam": True,
                        "vcam_device": "/dev/video9"}


def test_the_off_flag_of_a_switch_is_a_key_too(tmp_path):
    path = tmp_path / "x.toml"
    assert config_defaults(photo, path, {"no_near_blur": True}) == {"near_blur": False}
    assert config_defaults(photo, path, {"no-near-blur": False}) == {"near_blur": True}
    assert config_defaults(photo, path, {"near_blur": False}) == {"near_blur": False}
    with pytest.raises(click.BadParameter, match="must be true or false"):
        config_defaults(photo, path, {"no_near_blur": "yes"})
    with pytest.raises(click.BadParameter) as error:  # the keys as --help spells them
        config_defaults(photo, path, {"nope": 1})
    assert "no-near-blur" in str(error.value) and "segmenter," in str(error.value)
    assert "segmenter-model" not in str(error.value) and "mask-path" not in str(error.value)


def test_photo_takes_a_config_too(tmp_path):
    photo = PORTRAIT
    config = write_config(tmp_path, 'output = "out.png"\nstrength = 0\ngrain = "off"\n')
    result = run("photo", photo, "--config", config)
    assert result.exit_code == 0, result.output
    written = cv2.imread(str(tmp_path / "out.png"))
    assert written is not None and written.shape == cv2.imread(str(photo)).shape


def test_json_sidecar_applies_an_edit_again(tmp_path):
    """A sidecar (NAME.livebokeh.json, as the editor saves it) is a JSON config for photo."""
    from livebokeh.app.config import sidecar_path

    photo = tmp_path / "portrait.jpg"
    photo.write_bytes((REPO / "assets" / "portrait.jpg").read_bytes())
    white = np.full(cv2.imread(str(photo)).shape[:2], 255, np.uint8)
    cv2.imwrite(str(tmp_path / "portrait.refine.png"), white)  # brush: keep everything sharp
    sidecar = sidecar_path(photo)
    assert sidecar.name == "portrait.livebokeh.json"
    sidecar.write_text(json.dumps({"strength": 60, "grain": "off",
                                   "mask": "portrait.refine.png", "output": "out.png"}))
    result = run("photo", photo, "--config", sidecar)
    assert result.exit_code == 0, result.output
    out = cv2.imread(str(tmp_path / "out.png"))
    assert np.abs(out.astype(int) - cv2.imread(str(photo)).astype(int)).max() <= 1


def test_malformed_json_is_clear(tmp_path):
    config = tmp_path / "x.livebokeh.json"
    config.write_text("{strength: 3")
    result = run("cam", "--config", config)
    assert result.exit_code == 2 and "is not valid JSON" in result.output
