"""The two ways a command fails: bad arguments (exit 2) and runtime failures (exit 1)."""

__all__ = ["CLIError", "UsageError"]


class CLIError(Exception):
    """A runtime failure with a message for the user: exit code 1, one line on stderr."""

    exit_code = 1


class UsageError(CLIError):
    """Bad arguments found after parsing (e.g. an invalid estimator parameter): exit 2,
    reported the way argparse reports its own errors."""

    exit_code = 2
