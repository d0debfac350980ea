"""torch versions side by side: the property suite, documented behaviours
(:mod:`~fizzcheck.compat.probe`) and quick benchmarks run against several torch releases,
diffed (:mod:`~fizzcheck.compat.run`). ``fizzcheck compat`` is the command.
"""
