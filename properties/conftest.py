"""What the property suite needs from pytest when it runs without fizzcheck's pyproject.toml.

Installed, the suite is ``fizzcheck.properties`` (``pytest --pyargs fizzcheck.properties`` or
``fizzcheck verify`` from any directory): fizzcheck's pytest plugin registers its markers
and options; this conftest adds the warning filters the checkout's pyproject.toml sets.
"""

from __future__ import annotations

import pytest

from fizzcheck.suite import add_suite_filterwarnings

__all__ = ["pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    add_suite_filterwarnings(config)
