"""``python -m kpflow_sk.zoo {list,verify,build,pin}``: inspect, check and rebuild zoo models.

Exit codes (as ``kpflow-sk``): 0 success; 1 a failure at run time (a file that fails its
checksum, a rebuild outside the card's tolerance), one line on stderr; 2 bad arguments (an
unknown model, a missing or malformed recipe, an output folder a build must not touch).
"""

from __future__ import annotations

import argparse
import sys

PROG = "python -m kpflow_sk.zoo"


def _one_line(exc):
    return " ".join(str(exc).split())


def _parser():
    parser = argparse.ArgumentParser(prog=PROG, description="The kpflow_sk model zoo.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the models with their test score and collapse dim")
    p_verify = sub.add_parser("verify", help="check every file against the SHA-256 manifests")
    p_verify.add_argument("names", nargs="*")
    p_build = sub.add_parser("build", help="retrain a model from its recipe and compare with "
                                           "its card")
    p_build.add_argument("name")
    p_build.add_argument("--out", default="zoo_build",
                         help="folder for the rebuilt model (default ./zoo_build)")
    p_build.add_argument("--recipe", default=None, help="build this recipe.json instead")
    p_build.add_argument("--write", action="store_true",
                         help="write into the source zoo/ (maintainers; then run `pin "
                              "--write`)")
    p_pin = sub.add_parser("pin", help="compare the zoo's top-level manifest with the digest "
                                       "pinned in the package; --write updates the pin")
    p_pin.add_argument("--write", action="store_true",
                       help="rewrite kpflow_sk/zoo/_pin.py with the current digest "
                            "(maintainers, after rebuilding the zoo)")
    return parser


def _run(args):
    from kpflow_sk import zoo
    from kpflow_sk.zoo import _pin
    from kpflow_sk.zoo._build import RecipeError

    if args.command == "list":
        for name in zoo.list():
            m = zoo.card(name)["metrics"]
            print(f"{name:<24} test score {m['test_score']:.3f}  collapse dim "
                  f"{m['collapse_dim']:.2f}")
        return 0
    if args.command == "verify":
        known = zoo.list()
        unknown = [n for n in args.names if n not in known]
        if unknown:
            raise RecipeError(f"unknown zoo model(s) {', '.join(map(repr, unknown))}; "
                              f"available: {', '.join(known)}")
        checked = {}
        for name in args.names or [None]:
            checked.update(zoo.verify(name))
        for name, entries in checked.items():
            print(f"{name}: {len(entries)} files OK")
        return 0
    if args.command == "pin":
        current, pinned = _pin.current_digest(), _pin.ZOO_MANIFEST_SHA256
        if args.write:
            path = _pin.write_pin(current)
            print(f"pinned {current} in {path}")
            return 0
        print(f"zoo/MANIFEST.sha256 {current}\npinned              {pinned}\n"
              + ("OK" if current == pinned else
                 f"MISMATCH: run `{PROG} pin --write` after rebuilding the zoo"))
        return 0 if current == pinned else 1
    result = zoo.build(args.name, args.out, recipe=args.recipe, write=args.write)
    if args.write:
        print(f"the zoo changed: run `{PROG} pin --write` to update the pinned digest")
    return 0 if result["ok"] else 1


def main(argv=None):
    """Run ``python -m kpflow_sk.zoo`` with ``argv``; returns the exit code."""
    from kpflow_sk.zoo._build import RecipeError

    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, printed by argparse)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(args)
    except RecipeError as exc:  # bad arguments, found before any work
        parser.print_usage(sys.stderr)
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # e.g. ZooIntegrityError: one line, no traceback
        print(f"{PROG} {args.command}: error: {type(exc).__name__}: {_one_line(exc)}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    from kpflow_sk.interrupt import exit_process

    exit_process(main())
