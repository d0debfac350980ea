"""Result files: their one schema (:mod:`~fizzcheck.results.schema`), which every writer and the
report's loader use, and the machine block each file carries (:mod:`~fizzcheck.results.machine`).
"""
