"""Per-input settings for ``livebokeh batch``: the ``NAME.livebokeh.json`` sidecar beside an input.

The photo editor saves an edit's settings there (``{"strength": 40, "style": "lens",
"mask": "photo.refine.png"}``: the ``--config`` keys, paths relative to the sidecar). In a
batch it applies to that input only, over ``--config`` and the defaults; options typed on
the command line still win, as they do over ``--config``.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from livebokeh.app.config import config_defaults, read_config, sidecar_path


def input_options(ctx: click.Context, source: Path, options: dict) -> dict:
    """``options`` (the command's parsed values) with ``source``'s sidecar applied, if any.

    Values go through each option's own type check and callback, as on the command line;
    click.BadParameter names the sidecar and the bad key or value.
    """
    sidecar = sidecar_path(source)
    if not sidecar.is_file():
        return options
    merged = dict(options)
    params = {param.name: param for param in ctx.command.params}
    for name, raw in config_defaults(ctx.command, sidecar, read_config(sidecar)).items():
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            continue
        try:
            merged[name] = params[name].process_value(ctx, raw)
        except click.BadParameter as exc:
            raise click.BadParameter(f"{sidecar}: {name}: {exc.message}") from None
    return merged
