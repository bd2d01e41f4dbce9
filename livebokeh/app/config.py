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


def config_keys(command: click.Command) -> dict[str, tuple[click.Option, bool]]:
    """Accepted file keys (normalised) → (option, negated), for every option of ``command``.

    A key is an option's name or any of its long flags; the off flag of a boolean pair
    (``no_near_blur`` for ``--near-blur/--no-near-blur``) sets the option to the opposite.
    """
    keys: dict[str, tuple[click.Option, bool]] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or not param.expose_value or param.name == "help":
            continue
        keys[_normal(param.name)] = (param, False)
        for flags, negated in ((param.opts, False), (param.secondary_opts, True)):
            for flag in flags:
                if flag.startswith("--"):
                    keys[_normal(flag)] = (param, negated)
    return keys


def _documented_keys(command: click.Command) -> list[str]:
    """The keys as the options are spelled in ``--help`` (``near-blur``, ``no-near-blur``)."""
    return sorted({flag.lstrip("-") for param in command.params if isinstance(param, click.Option)
                   and param.expose_value and param.name != "help"
                   for flag in (*param.opts, *param.secondary_opts) if flag.startswith("--")})


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
        param, negated = keys.get(_normal(key), (None, False))
        if param is None:
            raise click.BadParameter(f"unknown key '{key}' in {path}; valid keys for "
                                     f"'{command.name}': {', '.join(_documented_keys(command))}")
        if isinstance(param.type, click.Path) and isinstance(value, str):
            value = str(path.parent / Path(value).expanduser())
        if negated:
            if not isinstance(value, bool):
                raise click.BadParameter(f"'{key}' in {path} must be true or false, "
                                         f"got {value!r}")
            value = not value
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
