"""The one table from the library's Python parameters to the ``lstmkit`` command's flags.

Library errors name the parameter at fault (:func:`lstmkit.errors.param_ref`); when the
command prints one, each parameter is written as the flag that sets it. A parameter whose
flag is ``--`` + its name with ``_`` as ``-`` needs no entry.
"""

from __future__ import annotations

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


def flag_for(command: str | None) -> Callable[[str], str]:
    """The function naming a parameter as ``command``'s flag."""
    table = {**COMMON, **BY_COMMAND.get(command or "", {})}

    def flag(param: str) -> str:
        return table.get(param, "--" + param.replace("_", "-"))

    return flag
