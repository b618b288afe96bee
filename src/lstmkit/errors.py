"""The project's exceptions.

``InputError`` is bad input from the user (a file, a column, a value): the command line
turns it into exit status 2 and one line ``error: <message>`` with no traceback. Its message
names the file, the column and the row where they apply, says what was expected and what came.
"""


class LstmkitError(Exception):
    """Base class of every exception lstmkit raises on purpose."""


class InputError(LstmkitError, ValueError):
    """Bad user input: a missing or unreadable file, a bad column, a bad value."""
