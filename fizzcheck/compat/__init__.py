"""torch releases side by side: ``fizzcheck compat`` runs the property suite, documented behaviours
(:mod:`~fizzcheck.compat.probe`) and quick benchmarks against any list of torch releases, each in
its own environment (:mod:`~fizzcheck.compat.envs`), and writes one behaviour-diff report
(:mod:`~fizzcheck.compat.diff`, :mod:`~fizzcheck.compat.render`); :mod:`~fizzcheck.compat.run` is the command.
"""
