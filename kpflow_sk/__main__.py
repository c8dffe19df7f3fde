"""`python -m kpflow_sk` runs the command-line interface."""
import sys

from kpflow_sk.cli import main

if __name__ == "__main__":
    sys.exit(main())
