"""Hypothesis strategies, by subject: tensor inputs (:mod:`~fizzcheck.strategies.inputs`, re-exported
here), random autograd graphs (:mod:`~fizzcheck.strategies.graphs`) and training problems
(:mod:`~fizzcheck.strategies.training`). Torch-free: they draw numpy arrays and names.
"""

from fizzcheck.strategies.inputs import *  # noqa: F403
from fizzcheck.strategies.inputs import __all__ as __all__
