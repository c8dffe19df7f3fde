"""`python -m kpflow_sk` runs the command-line interface."""
from kpflow_sk.cli import run

if __name__ == "__main__":
    run()
