"""The pytest plugin (entry point ``fizzcheck``): options, Hypothesis profiles, device and
dtype parametrisation (:mod:`~fizzcheck.plugin.hooks`), the results recorder
(:mod:`~fizzcheck.plugin.recorder`) and failure reproducers (:mod:`~fizzcheck.plugin.reproduce`).
"""
