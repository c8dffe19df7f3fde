"""scikit-learn's estimator checks over both estimators (no expected failures).

The checked instances use ``dtype="float64"``: several checks compare two fits to
``rtol=1e-7`` / ``atol=1e-7``, below float32's resolution: with the float32 default,
check_sample_weight_equivalence_on_dense_data (both estimators) and
check_methods_subset_invariance (classifier) fail at float32 rounding level, every other check
passes. ``test_fit.py`` runs the sample-weight comparison in float32 at float32 tolerance.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor

# Small sizes keep the checks fast; otherwise the defaults (gru cell, adam).
_CHECKED = [
    RecurrentRegressor(hidden_size=16, max_iter=50, learning_rate=1e-2, dtype="float64"),
    RecurrentClassifier(hidden_size=16, max_iter=50, learning_rate=1e-2, dtype="float64"),
]


@parametrize_with_checks(_CHECKED)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
