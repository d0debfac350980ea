"""numpy float64 references: the oracle fizzcheck trusts instead of the framework.

Nothing in this package imports torch, so a fault in torch cannot hide in the oracle.
Every op is a forward function next to its hand-written vector-Jacobian product.
"""

from fizzcheck.reference import net, ops, optim, tape

__all__ = ["net", "ops", "optim", "tape"]
