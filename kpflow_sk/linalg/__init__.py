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
can be forced onto (``exact=True``), the dense answer. The measures are those of DESIGN.md
section 3.
"""

from kpflow_sk.linalg._alignment import alignment, cosine
from kpflow_sk.linalg._checks import EXACT_MAX_DIM
from kpflow_sk.linalg._dense import DenseOperator, as_operator, dense_matrix
from kpflow_sk.linalg._random import check_generator
from kpflow_sk.linalg._rank import RANK_METHODS, effective_rank, participation_ratio, var95_rank
from kpflow_sk.linalg._reduce import AXES, REDUCTIONS, reduce_to_axis
from kpflow_sk.linalg._results import Alignment, AxisReduction, EffectiveRank, Estimate, Spectrum
from kpflow_sk.linalg._spectrum import EIGEN_METHODS, spectrum, top_eigenvalues
from kpflow_sk.linalg._trace import SKETCHES, frobenius_norm, hutchpp_trace, trace_of_square

__all__ = [
    "DenseOperator", "as_operator", "dense_matrix", "check_generator",
    "hutchpp_trace", "trace_of_square", "frobenius_norm",
    "alignment", "cosine",
    "top_eigenvalues", "spectrum", "reduce_to_axis",
    "effective_rank", "participation_ratio", "var95_rank",
    "Estimate", "Alignment", "Spectrum", "AxisReduction", "EffectiveRank",
    "AXES", "REDUCTIONS", "RANK_METHODS", "EIGEN_METHODS", "SKETCHES", "EXACT_MAX_DIM",
]
