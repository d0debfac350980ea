"""Result files: their one schema (:mod:`~fizzcheck.results.schema`), which every writer, the validator
(:mod:`~fizzcheck.results.validate`), the report's loader and ``docs/results-schema.md``
(:mod:`~fizzcheck.results.schema_doc`) use, and the machine block each file carries
(:mod:`~fizzcheck.results.machine`).

Standard library only at import time: torch is imported inside the functions that read it.
"""

__all__: list[str] = []
