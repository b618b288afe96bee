"""The project's exceptions, and how their messages name a parameter.

``InputError`` is bad input from the user (a file, a column, a value): the command line
turns it into exit status 2 and one line ``error: <message>`` with no traceback. Its message
names the file, the column and the row where they apply, says what was expected and what came.

The library speaks Python: a message that tells the user to change a setting names the
setting with :func:`param_ref`, a marker that renders as the Python parameter
(``fill='ffill'``) for library callers and as the command-line flag (``--fill ffill``) when the
``lstmkit`` command prints it (:meth:`InputError.render` with the CLI's table). No library
message outside ``lstmkit.cli`` spells a flag.

>>> err = InputError(f"{param_ref('transform', 'none')} keeps values <= 0", param="transform")
>>> str(err)
"transform='none' keeps values <= 0"
>>> err.render(lambda name: "--" + name)
'--transform none keeps values <= 0'
"""

from __future__ import annotations

import re
from typing import Any, Callable

# A parameter reference inside a message: \x1f name [\x1e repr(value) \x1d str(value)] \x1f
# (control characters never found in file names, column names or values that messages quote).
_REF = re.compile("\x1f([A-Za-z_][A-Za-z0-9_]*)(?:\x1e([^\x1d]*)\x1d([^\x1f]*))?\x1f")


def param_ref(name: str, value: Any = None) -> str:
    """A marker for the parameter ``name`` (optionally set to ``value``) inside a message."""
    if value is None:
        return f"\x1f{name}\x1f"
    return f"\x1f{name}\x1e{value!r}\x1d{value}\x1f"


def _python_ref(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    return name if value is None else f"{name}={value}"


def render_refs(text: str, flag_of: Callable[[str], str] | None = None) -> str:
    """``text`` with every :func:`param_ref` marker written out: as Python (``name='v'``)
    without ``flag_of``, else as ``flag_of(name)`` followed by the value (``--name v``)."""
    if flag_of is None:
        return _REF.sub(_python_ref, text)

    def cli(match: re.Match) -> str:
        flag = flag_of(match.group(1))
        return flag if match.group(3) is None else f"{flag} {match.group(3)}"

    return _REF.sub(cli, text)


def first_param(text: str) -> str | None:
    """The name of the first parameter referenced in ``text`` (None when there is none)."""
    match = _REF.search(text)
    return match.group(1) if match else None


class LstmkitError(Exception):
    """Base class of every exception lstmkit raises on purpose."""


class InputError(LstmkitError, ValueError):
    """Bad user input: a missing or unreadable file, a bad column, a bad value.

    ``param`` is the Python parameter at fault (default: the first one the message
    references), ``expected`` and ``got`` what it should have been and what came, for callers
    that handle the error in code. ``str(err)`` is the message in Python's words;
    ``err.render(flag_of)`` the same message with each parameter named by ``flag_of``.
    """

    def __init__(self, message: str, *, param: str | None = None, expected: Any = None,
                 got: Any = None) -> None:
        self.template = message
        self.param = param if param is not None else first_param(message)
        self.expected = expected
        self.got = got
        super().__init__(render_refs(message))

    def render(self, flag_of: Callable[[str], str] | None = None) -> str:
        return render_refs(self.template, flag_of)


def bad_value(param: str, expected: str, got: Any, *, source: str | None = None) -> InputError:
    """The usual ``<param>: expected <expected>; got <got>`` error (prefixed by ``source``)."""
    where = f"{source}: " if source else ""
    return InputError(f"{where}{param_ref(param)}: expected {expected}; got {got!r}",
                      param=param, expected=expected, got=got)
