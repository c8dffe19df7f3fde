"""``python -m kpflow_sk.zoo {list,verify,build}``: inspect, check and rebuild zoo models."""

from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kpflow_sk.zoo",
                                     description="The kpflow_sk model zoo.")
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
                         help="write into the source zoo/ (maintainers)")
    args = parser.parse_args(argv)

    from kpflow_sk import zoo

    if args.command == "list":
        for name in zoo.list():
            m = zoo.card(name)["metrics"]
            print(f"{name:<24} test score {m['test_score']:.3f}  collapse dim "
                  f"{m['collapse_dim']:.2f}")
        return 0
    if args.command == "verify":
        checked = {}
        for name in args.names or [None]:
            checked.update(zoo.verify(name))
        for name, entries in checked.items():
            print(f"{name}: {len(entries)} files OK")
        return 0
    result = zoo.build(args.name, args.out, recipe=args.recipe, write=args.write)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
