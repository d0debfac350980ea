"""fizzcheck: does the framework compute what the maths says, and how fast?

Importing fizzcheck does not import torch; the reference (``fizzcheck.reference``), the
tolerance model and the strategies are framework-independent.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
