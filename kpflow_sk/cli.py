"""The command-line interface: ``kpflow-sk`` and ``python -m kpflow_sk``.

Commands::

    kpflow-sk demo [--out DIR] [--max-iter N] [--hidden-size H] [--seed S] [--quick]
    kpflow-sk fit --task NAME[,NAME...] [--cell gru] [--hidden-size H] ... [--out DIR]
    kpflow-sk analyze MODEL_FILE_OR_ZOO_NAME [--out DIR]
    kpflow-sk compare --cells rnn,gru --tasks NAME[,NAME...] [--cv 3]
                      [--n-jobs N | --scheduler ADDRESS]
    kpflow-sk zoo list | zoo show NAME | zoo get NAME
    kpflow-sk tasks list | tasks show NAME

Exit codes: 0 success; 1 runtime failure (e.g. an unreadable model file), reported as one
line on stderr without a traceback (``--traceback`` shows it); 2 bad arguments (argparse's
convention), including an output that exists (``--force`` overwrites it) or cannot be
written: both are checked before any training starts; 130 interrupted (Ctrl-C / SIGINT):
nothing is written after the interrupt, and files are renamed into place only once
complete.

>>> from kpflow_sk.cli import main
>>> main(["tasks", "show", "memory_pro"])  # doctest: +ELLIPSIS
memory_pro  (kpflow family)
...
0
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import contextmanager

from kpflow_sk._cli import compare, demo, fit, tasks, zoo
from kpflow_sk._cli.args import positive_int
from kpflow_sk._cli.errors import CLIError
from kpflow_sk.interrupt import exit_process, record_sigint

__all__ = ["main", "run", "build_parser"]

PROG = "kpflow-sk"


def build_parser():
    """The argparse parser of every command (each sets ``run(args, out) -> exit code``)."""
    from kpflow_sk import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=positive_int, metavar="N",
                        help="torch CPU threads (default: 1 for demo, torch's setting "
                             "otherwise)")
    common.add_argument("--traceback", action="store_true",
                        help="show the full traceback of a failure")
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit recurrent networks the scikit-learn way and look inside how "
                    "gradient descent shaped them (KPFlow).",
        epilog=f"Run `{PROG} COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # every command inherits the common options; its parser is kept for usage errors
    original = sub.add_parser
    parser.command_parsers = {}

    def add_parser(name, **kw):
        kw.setdefault("parents", [common])
        kw.setdefault("prog", f"{PROG} {name}")
        parser.command_parsers[name] = original(name, **kw)
        return parser.command_parsers[name]

    sub.add_parser = add_parser
    demo.add_parser(sub)
    fit.add_parsers(sub)
    compare.add_parser(sub)
    zoo.add_parser(sub)
    tasks.add_parser(sub)
    return parser


@contextmanager
def _session(threads):
    """Torch threads and one-line warnings for the duration of a command (then restored)."""
    old_format = warnings.formatwarning
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        if threads is None:  # torch is not even imported (`tasks`, `zoo list`, `--help`)
            yield
        else:
            from kpflow_sk.estimators import torch_threads  # the package's one copy

            with torch_threads(threads):
                yield
    finally:
        warnings.formatwarning = old_format


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 ok, 1 runtime failure, 2 bad arguments.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    out = sys.stdout
    try:
        with record_sigint() as interrupted, \
                _session(args.threads or getattr(args, "default_threads", None)):
            args.interrupted = interrupted  # commands check it after calls that may swallow
            rc = int(args.run(args, out) or 0)
            interrupted.check()
            return rc
    except CLIError as exc:
        if args.traceback:
            raise
        if exc.exit_code == 2:
            sub = parser.command_parsers[args.command]
            sub.print_usage(sys.stderr)
            print(f"{sub.prog}: error: {_one_line(exc)}", file=sys.stderr)
        else:
            print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into e.g. `head`, which exited
        import os

        # no second BrokenPipeError when Python flushes stdout at exit (Python docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failure we did not foresee: still one line, exit 1
        if args.traceback:
            raise
        print(f"{PROG} {args.command}: error: {type(exc).__name__}: {_one_line(exc)} "
              "(run with --traceback for details)", file=sys.stderr)
        return 1


def run():
    """Entry point of ``kpflow-sk`` and ``python -m kpflow_sk``: exit with ``main()``'s code
    (130 after an interrupt, see :func:`kpflow_sk.interrupt.exit_process`)."""
    exit_process(main())


if __name__ == "__main__":  # pragma: no cover
    run()
