"""fizzcheck's verification suite: Hypothesis properties of torch against the numpy references.

It sits at the top of the repository and ships in the wheel as ``fizzcheck.properties``, so
``pytest --pyargs fizzcheck.properties`` and ``fizzcheck verify`` run it from any directory.
Reproducers name a check by its module's real ``__name__`` (``properties.test_ops`` in a
checkout, ``fizzcheck.properties.test_ops`` installed), so each imports in its own layout.
"""

__all__: list[str] = []
