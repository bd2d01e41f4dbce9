"""``--config FILE``: command-line options from a TOML or JSON file; the command line wins.

A JSON file is what the photo editor saves beside a photo as ``NAME.livebokeh.json`` (a
"sidecar"), so an edit can be applied again with ``photo --config`` or ``batch``. The file
holds the command's own options, by option name (``strength = 40``,
``vcam-backend = "v4l2loopback"``, ``segmenter = "landscape"``) or click parameter name
(``segmenter_model``); dashes and underscores are interchangeable. Values become click's
``default_map``, so they pass through the same type checks as typed options, and any
option given on the command line overrides them. Relative paths are relative to the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _normal(key: str) -> str:
    return key.strip().lstrip("-").replace("-", "_").lower()


def config_keys(command: click.Command) -> dict[str, click.Option]:
    """Accepted file keys (normalised) → option, for every option of ``command``."""
    keys: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or not param.expose_value or param.name == "help":
            continue
        keys[_normal(param.name)] = param
        for flag in param.opts:
            if flag.startswith("--"):
                keys[_normal(flag)] = param
    return keys


SIDECAR_SUFFIX = ".livebokeh.json"  # photo.jpg → photo.livebokeh.json


def sidecar_path(photo: Path) -> Path:
    """Where the settings of an edited photo are kept: beside it, ``NAME.livebokeh.json``."""
    return photo.with_name(photo.stem + SIDECAR_SUFFIX)


def read_config(path: Path) -> dict:
    """The TOML or JSON (``.json``) file as a dict; click.BadParameter if unreadable."""
    try:
        with open(path, "rb") as fh:
            table = json.load(fh) if path.suffix.lower() == ".json" else tomllib.load(fh)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise click.BadParameter(f"{path} is not valid {kind}: {exc}") from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(table, dict):
        raise click.BadParameter(f"{path} must hold a table of option names and values")
    return table


def config_defaults(command: click.Command, path: Path, table: dict) -> dict:
    """``default_map`` entries (parameter name → value) for ``command`` from ``table``."""
    keys = config_keys(command)
    defaults = {}
    for key, value in table.items():
        param = keys.get(_normal(key))
        if param is None:
            valid = sorted({p.name.replace("_", "-") for p in keys.values()})
            raise click.BadParameter(f"unknown key '{key}' in {path}; valid keys for "
                                     f"'{command.name}': {', '.join(valid)}")
        if isinstance(param.type, click.Path) and isinstance(value, str):
            value = str(path.parent / Path(value).expanduser())
        defaults[param.name] = value
    return defaults


def _load_into_context(ctx: click.Context, param: click.Parameter, value) -> None:
    if value is None:
        return
    path = Path(value)
    defaults = config_defaults(ctx.command, path, read_config(path))
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


def config_option(command):
    """Add ``--config FILE`` to a click command (eager: read before the other options)."""
    return click.option(
        "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        is_eager=True, expose_value=False, callback=_load_into_context,
        help="TOML or JSON file with option values (same names as the options); "
             "options given here override it.")(command)
