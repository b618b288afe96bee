"""The one table from the library's Python parameters to the ``lstmkit`` command's flags.

Library errors name the parameter at fault (:func:`lstmkit.errors.param_ref`); when the
command prints one, each parameter is written as the flag that sets it. A parameter whose
flag is ``--`` + its name with ``_`` as ``-`` needs no entry.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Callable

# parameter -> flag, for every command
COMMON: dict[str, str] = {
    "past_covariates": "--covariates",
    "max_time": "--max-time",
}

# command -> parameter -> flag, where a command names a parameter its own way (a positional
# argument by its metavar)
BY_COMMAND: dict[str, dict[str, str]] = {
    "forecast": {"windows": "--backtest-windows", "stride": "--backtest-stride"},
    "classify": {},
    "inspect": {"data": "DATA"},
    "detect": {"data": "DATA"},
}


def flag_for(command: str | None, known: Collection[str] | None = None) -> Callable[[str], str]:
    """The function naming a parameter as ``command``'s flag. ``known``: the command's own
    option strings; a flag outside them (a training setting named by a message that
    ``inspect`` prints on a model's data) is written as belonging to the training command."""
    table = {**COMMON, **BY_COMMAND.get(command or "", {})}

    def flag(param: str) -> str:
        name = table.get(param, "--" + param.replace("_", "-"))
        if known is not None and name.startswith("--") and name not in known:
            return f"{name} (when training; lstmkit {command} has no such flag)"
        return name

    return flag
