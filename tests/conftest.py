"""fizzcheck's own tests mirror the package (tests/report/ tests fizzcheck/report/, …).

Helpers shared across those folders (``report_helpers``, ``synthetic``) stay at the top of
tests/ and are imported by name, as from a test file beside them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
