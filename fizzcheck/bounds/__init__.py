"""Error bounds: the rounding model (:mod:`~fizzcheck.bounds.rounding`), defined once, and
the bounds built on it, by subject: the ops (:mod:`~fizzcheck.bounds.ops`), random
autograd graphs (:mod:`~fizzcheck.bounds.graphs`) and training
(:mod:`~fizzcheck.bounds.training`).

Every bound is derived from the rounding model (unit roundoff u of each dtype, γ_k for a
k-term sum) and the inputs; the derivations are in each module's docstrings. The
comparison that turns a bound into a verdict is :mod:`fizzcheck.check`.
"""

__all__: list[str] = []
