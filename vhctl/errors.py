"""The error type for expected failures: the CLI prints its message as one line, no traceback."""


class VhctlError(Exception):
    """An expected failure (bad input, missing program, port in use...).

    ``str(error)`` is a complete sentence for the user, ideally saying what to do next.
    """

    exit_code = 1
