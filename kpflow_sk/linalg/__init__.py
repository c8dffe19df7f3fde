"""Traces, spectra, effective rank and alignment of linear operators (randomized + dense).

Works on any object following the operator protocol (duck-typed; :mod:`kpflow_sk.operators`
and :class:`DenseOperator` follow it):

- ``op.in_shape``, ``op.out_shape``: tuples, e.g. ``(B, T, H)`` or ``(n_params,)``;
- ``op.dtype``, ``op.device``: where the computation runs (CPU or CUDA, float32/64);
- ``op.matmat(Q)``: ``(*in_shape, k) -> (*out_shape, k)``, all k probes in one call;
- ``op.rmatmat(R)``: the adjoint, ``(*out_shape, k) -> (*in_shape, k)``.

A torch tensor or numpy array is accepted wherever an operator is (a dense matrix on flat
vectors). Every estimator takes ``random_state``, reports ``n_applications`` (probe vectors
through the operator or its adjoint; a call with k columns counts k) and falls back to, or
can be forced onto (``exact=True``), the dense answer. The measures are those of docs/conventions.md
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
from kpflow_sk.linalg._dense import DenseOperator, as_operator, dense_matrix
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
from kpflow_sk.linalg._trace import SKETCHES, frobenius_norm, hutchpp_trace, trace_of_square

__all__ = [
    "DenseOperator", "as_operator", "dense_matrix", "check_generator",
    "hutchpp_trace", "trace_of_square", "frobenius_norm",
    "alignment", "cosine",
    "top_eigenvalues", "spectrum", "reduce_to_axis",
    "effective_rank", "participation_ratio", "var95_rank",
    "Estimate", "Alignment", "Spectrum", "AxisReduction", "EffectiveRank", "format_estimate",
    "DEFAULT_RTOL", "DEFAULT_MAX_APPLICATIONS", "DEFAULT_MAX_PROBES",
    "AXES", "REDUCTIONS", "RANK_METHODS", "EIGEN_METHODS", "SKETCHES", "EXACT_MAX_DIM",
]
