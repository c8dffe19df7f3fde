"""The one table of the estimator options of ``fit`` and ``compare``, and the
``RecurrentRegressor`` parameters read back from them.

Each row: option, estimator parameter, argument type, the CLI's default, metavar, help, and
the group it belongs to (``"model"``: both commands; ``"tracking"``: ``fit`` only;
``"analysis"``: both, in the "KPFlow analysis" group). The defaults are the CLI's, smaller
than the estimator's where a command should finish in seconds (``max_iter``, ``kp_n_trials``).
"""

from __future__ import annotations

from typing import NamedTuple

from kpflow_sk._cli.args import (
    cell_name,
    key_value,
    nonnegative_int,
    positive_float,
    positive_int,
)
from kpflow_sk._cli.errors import UsageError

__all__ = ["ESTIMATOR_OPTIONS", "add_estimator_arguments", "estimator_params"]


class Option(NamedTuple):
    flag: str
    param: str
    type: object
    default: object
    metavar: str
    help: str
    group: str

    @property
    def dest(self):
        return self.flag[2:].replace("-", "_")


ESTIMATOR_OPTIONS = (
    Option("--hidden-size", "hidden_size", positive_int, 64, "H", "hidden units", "model"),
    Option("--max-iter", "max_iter", positive_int, 100, "N", "training epochs", "model"),
    Option("--learning-rate", "learning_rate", positive_float, 1e-2, "LR",
           "Adam learning rate", "model"),
    Option("--batch-size", "batch_size", positive_int, 32, "B", "mini-batch size", "model"),
    Option("--track-every", "kp_track_every", nonnegative_int, 10, "N",
           "KPFlow snapshot every N epochs during training, 0: off", "tracking"),
    Option("--kp-n-trials", "kp_n_trials", positive_int, 16, "N",
           "trials in the analysis batch", "analysis"),
    Option("--kp-probes", "kp_probes", positive_int, 64, "N",
           "operator applications per randomized estimate", "analysis"),
)


def add_estimator_arguments(p, *, cell=True, tracking=True):
    """The options of :data:`ESTIMATOR_OPTIONS` (and ``--cell``, ``--param``) on parser ``p``.

    ``tracking=False`` leaves out ``--track-every`` (``compare`` does not track).
    """
    g = p.add_argument_group("model and training")
    if cell:
        g.add_argument("--cell", type=cell_name, default="gru",
                       help="recurrent cell: gru, rnn, leaky_rnn, node (default: gru)")
    k = p.add_argument_group("KPFlow analysis")
    for opt in ESTIMATOR_OPTIONS:
        if opt.group == "tracking" and not tracking:
            continue
        (g if opt.group == "model" else k).add_argument(
            opt.flag, type=opt.type, default=opt.default, metavar=opt.metavar,
            help=f"{opt.help} (default: {opt.default:g})")
        if opt.param == "batch_size":  # --param comes last in its group
            g.add_argument("--param", type=key_value, action="append", default=[],
                           metavar="KEY=VALUE",
                           help="any other RecurrentRegressor parameter, e.g. --param "
                                "grad_clip=1.0 (repeatable)")
    return g


def estimator_params(args, **fixed):
    """``RecurrentRegressor`` parameters from the parsed options, ``fixed`` and ``--param``.

    ``--threads`` becomes ``n_threads`` when given. An unknown ``--param`` key is a
    ``UsageError`` (exit 2); values are validated by whoever builds the estimator.
    """
    from kpflow_sk.estimators import estimator_parameters

    params = {opt.param: getattr(args, opt.dest) for opt in ESTIMATOR_OPTIONS
              if hasattr(args, opt.dest)}
    if getattr(args, "threads", None) is not None:
        params["n_threads"] = args.threads
    params.update(fixed)
    extra = dict(getattr(args, "param", []))
    unknown = sorted(set(extra) - set(estimator_parameters()))
    if unknown:
        raise UsageError(f"--param: unknown RecurrentRegressor parameter(s) {unknown}")
    params.update(extra)
    return params
