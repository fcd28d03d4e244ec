"""Errors meant for the user: the CLI prints their message (no traceback) and exits non-zero."""


class UserError(Exception):
    """Bad input, a missing file, an impossible request: something the user can fix.

    The message must name the file or setting at fault and say what to do.
    """
