"""Error bounds, by subject: the ops (:mod:`~fizzcheck.bounds.ops`), random autograd graphs
(:mod:`~fizzcheck.bounds.graphs`) and training (:mod:`~fizzcheck.bounds.training`).

Every bound is derived from the rounding model (unit roundoff u of each dtype, γ_k for a
k-term sum) and the inputs; the derivations are in each module's docstrings.
"""
