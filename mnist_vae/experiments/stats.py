"""Small statistics for benchmark tables: mean, spread and a paired t-test.

No SciPy: the t distribution's tail comes from the regularised incomplete beta
function, evaluated by its continued fraction (Numerical Recipes, 3rd ed., 6.4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, dof: int) -> float:
    """P(|T| >= |t|) for Student's t with ``dof`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return regularized_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t))


def paired_t_test(after: Sequence[float], before: Sequence[float]) -> dict[str, float]:
    """Paired t-test of ``after - before`` (e.g. accuracy with and without synthetic data)."""
    differences = [a - b for a, b in zip(after, before, strict=True)]
    mean, std = mean_std(differences)
    n = len(differences)
    if n < 2:
        return {"mean_difference": mean, "std_difference": 0.0, "t": math.nan, "p": math.nan}
    t = mean / (std / math.sqrt(n)) if std > 0 else (math.inf if mean else 0.0)
    p = t_two_sided_p(t, n - 1) if t != 0.0 else 1.0
    return {"mean_difference": mean, "std_difference": std, "t": t, "p": p}
