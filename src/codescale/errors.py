"""The one exception type that reaches users as a plain message instead of a traceback."""


class CodescaleError(Exception):
    """Bad input or a failed precondition; the message says what and where."""
