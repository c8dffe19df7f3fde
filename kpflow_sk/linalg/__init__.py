"""The linear-operator protocol, and traces, spectra, effective rank and alignment of
linear operators (randomized + dense).

One protocol, :class:`LinearOperator`: ``in_shape``, ``out_shape`` (tuples, e.g.
``(B, T, H)`` or ``(n_params,)``), ``dtype``, ``device``; ``matmat(Q)``: ``(*in_shape, k) ->
(*out_shape, k)``, all k probes in one call, and ``rmatmat(R)``, the adjoint; one
application counter ``n_applications``. A subclass implements the hook ``_matmat`` (and
``_rmatmat`` unless ``self_adjoint``); ``op @ other`` composes (:class:`ComposedOperator`,
shape, dtype and device checked), ``op.T`` is the adjoint, :class:`GramOperator` ``R R*``
knows its root. :class:`DenseOperator` is a matrix; :mod:`kpflow_sk.operators` builds the
KPFlow operators on the same base.

The routines accept a LinearOperator, a torch tensor or numpy array (a dense matrix on flat
vectors), or any object with the protocol's attributes (wrapped by :func:`as_operator`).
Every estimator takes ``random_state``, reports ``n_applications`` (probe vectors through the
operator or its adjoint; a call with k columns counts k) and falls back to, or can be forced
onto (``exact=True``), the dense answer. The measures are those of docs/conventions.md
section 3.

Accuracy contract: every randomized measure returns its value with ``stderr``, a ~95%
``interval``, ``converged``, ``hit_cap`` and ``bound`` (see :mod:`._results`). It takes
``rtol`` (default :data:`DEFAULT_RTOL`) and ``max_applications`` (default
:data:`DEFAULT_MAX_APPLICATIONS`; 256 probes for axis reductions): the budget grows in
probe blocks until the interval half-width is within ``rtol`` of the value, or the cap. An
explicit ``n_applications`` (``n_probes`` for axis reductions) without ``rtol`` is a fixed
budget. ``format_estimate(result)`` renders ``"38.5 ± 0.4 (1%, 120 applications)"``.
"""

from kpflow_sk.linalg._accuracy import DEFAULT_MAX_APPLICATIONS, DEFAULT_RTOL
from kpflow_sk.linalg._alignment import alignment, cosine
from kpflow_sk.linalg._checks import EXACT_MAX_DIM
from kpflow_sk.linalg._dense import DenseOperator, ProtocolOperator, as_operator, dense_matrix
from kpflow_sk.linalg._operator import (
    AdjointOperator,
    ComposedOperator,
    GramOperator,
    LinearOperator,
)
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._rank import RANK_METHODS, effective_rank, participation_ratio, var95_rank
from kpflow_sk.linalg._reduce import AXES, DEFAULT_MAX_PROBES, REDUCTIONS, reduce_to_axis
from kpflow_sk.linalg._results import (
    Alignment,
    AxisReduction,
    EffectiveRank,
    Estimate,
    Spectrum,
    format_estimate,
)
from kpflow_sk.linalg._spectrum import EIGEN_METHODS, spectrum, top_eigenvalues
from kpflow_sk.linalg._syrk import GramAccumulator, column_gram
from kpflow_sk.linalg._trace import SKETCHES, frobenius_norm, hutchpp_trace, trace_of_square

__all__ = [
    "LinearOperator", "ComposedOperator", "AdjointOperator", "GramOperator",
    "DenseOperator", "ProtocolOperator", "as_operator", "dense_matrix",
    "GramAccumulator", "column_gram",
    "check_generator",
    "hutchpp_trace", "trace_of_square", "frobenius_norm",
    "alignment", "cosine",
    "top_eigenvalues", "spectrum", "reduce_to_axis",
    "effective_rank", "participation_ratio", "var95_rank",
    "Estimate", "Alignment", "Spectrum", "AxisReduction", "EffectiveRank", "format_estimate",
    "DEFAULT_RTOL", "DEFAULT_MAX_APPLICATIONS", "DEFAULT_MAX_PROBES",
    "AXES", "REDUCTIONS", "RANK_METHODS", "EIGEN_METHODS", "SKETCHES", "EXACT_MAX_DIM",
]
