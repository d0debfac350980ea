"""Version-aware outcomes: NOT AVAILABLE, KNOWN TORCH DEFECT and BEHAVIOUR CHANGED.

Three markers tie a property to :mod:`fizzcheck.history`:

* ``@pytest.mark.requires(NAME, ...)``: the property needs these capabilities
  (:data:`fizzcheck.history.capabilities.CAPABILITIES`). They are probed at set-up, on the
  test's device; where one is missing the test does not run and reports NOT AVAILABLE,
  shown by pytest as skipped with ``not available in torch X: FEATURE``.
* ``@pytest.mark.known_defect(ID, strict=True)``: the property can hit the registered torch
  defect ``ID`` (:data:`fizzcheck.history.defects.DEFECTS`). A failure is classified KNOWN
  TORCH DEFECT (pytest: xfailed) only when the defect's probe finds the defect in the torch
  under test on this device *and* the failure shows the registered symptom (exception type and
  message). Any other failure stays a failure; where the probe does not find the defect, the
  property must pass. With ``strict`` (the default) a pass where the probe finds the defect
  fails: the property no longer reaches the defect, and the marker or registry is stale.
* ``@pytest.mark.behaviour_change(ID)``: the property checks a documented behaviour that older
  releases show differently (:data:`fizzcheck.history.defects.BEHAVIOUR_CHANGES`). A failure
  with the old symptom, where the probe finds the old behaviour, is BEHAVIOUR CHANGED
  (pytest: xfailed), with the old and the documented message.

The outcome travels on the ``TestReport`` as ``fizzcheck_outcome`` (``not_available``,
``known_defect`` or ``behaviour_changed``) and ``fizzcheck_detail`` (the missing feature, the
defect id, or the old/documented message); both survive pytest-xdist's report transfer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from fizzcheck.history import capabilities, defects

__all__ = ["HistoryPlugin", "register"]

MARKERS = (
    "requires(*capabilities): the property needs these torch capabilities (fizzcheck.history.capabilities); "
    "where one is missing it reports NOT AVAILABLE",
    "known_defect(id, strict=True): a failure with the registered symptom of torch defect `id` "
    "(fizzcheck.history.defects), where the probe finds it, reports KNOWN TORCH DEFECT",
    "behaviour_change(id): a failure with the old symptom of behaviour change `id`, where the probe "
    "finds the old behaviour, reports BEHAVIOUR CHANGED",
)

_NOT_AVAILABLE = pytest.StashKey[str]()


def _device(item: pytest.Item) -> str:
    params = getattr(getattr(item, "callspec", None), "params", {})
    device = params.get("device")
    return device if isinstance(device, str) else "cpu"


def _ids(item: pytest.Item, name: str) -> list[tuple[str, dict[str, Any]]]:
    return [(str(arg), dict(mark.kwargs)) for mark in item.iter_markers(name) for arg in mark.args]


class HistoryPlugin:
    """pytest plugin object: probes capabilities at set-up and classifies failures after the call."""

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """A marker naming an unknown capability, defect or change is a usage error, found before anything runs."""
        known: dict[str, Mapping[str, object]] = {
            "requires": capabilities.CAPABILITIES,
            "known_defect": defects.DEFECTS,
            "behaviour_change": defects.BEHAVIOUR_CHANGES,
        }
        for item in items:
            for marker, registry in known.items():
                unknown = [name for name, _ in _ids(item, marker) if name not in registry]
                if unknown:
                    raise pytest.UsageError(
                        f"{item.nodeid}: @pytest.mark.{marker}({', '.join(map(repr, unknown))}) is not registered; "
                        f"known: {', '.join(sorted(registry))}"
                    )

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # runs after pytest's own skip marks (tryfirst), so an absent CUDA device is never probed
        device = _device(item)
        for name, _ in _ids(item, "requires"):
            if not capabilities.available(name, device):
                feature = capabilities.feature(name, device)
                item.stash[_NOT_AVAILABLE] = feature
                reason = f"not available in torch {capabilities.torch_version()}: {feature}"
                raise pytest.skip.Exception(reason, _use_item_location=True)  # reported at the test, not here

    @pytest.hookimpl(wrapper=True, trylast=True)  # innermost: the recorder sees the classified report
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report: Any = yield
        if call.when == "setup" and report.skipped and _NOT_AVAILABLE in item.stash:
            report.fizzcheck_outcome = "not_available"
            report.fizzcheck_detail = item.stash[_NOT_AVAILABLE]
        elif call.when == "call" and report.failed and call.excinfo is not None:
            _classify_failure(item, report, call.excinfo.value)
        elif call.when == "call" and report.passed:
            _check_strict(item, report)
        return report


def _classify_failure(item: pytest.Item, report: Any, exc: BaseException) -> None:
    device = _device(item)
    version = capabilities.torch_version()
    for defect_id, _ in _ids(item, "known_defect"):
        defect = defects.DEFECTS[defect_id]
        if defect.symptom.matches(exc) and _state(report, defect, device) == "present":
            report.outcome = "skipped"
            report.wasxfail = f"KNOWN TORCH DEFECT {defect.id}: {defect.title} (torch {version}, {device})"
            report.fizzcheck_outcome = "known_defect"
            report.fizzcheck_detail = defect.id
            return
    for change_id, _ in _ids(item, "behaviour_change"):
        change = defects.BEHAVIOUR_CHANGES[change_id]
        if change.old.matches(exc) and _state(report, change, device) == "present":
            old = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            detail = f"{change.id}: torch {version} shows {old}; documented: {change.documented}"
            report.outcome = "skipped"
            report.wasxfail = f"BEHAVIOUR CHANGED: {detail}"
            report.fizzcheck_outcome = "behaviour_changed"
            report.fizzcheck_detail = detail
            return


def _check_strict(item: pytest.Item, report: Any) -> None:
    """A pass where the probe finds the defect means a stale marker, but only when the target is
    torch eager itself: another target (seed-raw, compile, yours) may not reach torch's faulty
    kernel at all, and passing is then the right answer."""
    target = getattr(item, "funcargs", {}).get("target")
    if target is not None and getattr(target, "spec", "torch") != "torch":
        return
    device = _device(item)
    for defect_id, kwargs in _ids(item, "known_defect"):
        defect = defects.DEFECTS[defect_id]
        if kwargs.get("strict", True) and _state(report, defect, device) == "present":
            report.outcome = "failed"
            report.longrepr = (
                f"[known_defect strict] torch {capabilities.torch_version()} has defect {defect.id} on {device} "
                f"(its probe finds it), but this property passed: it no longer reaches the defect "
                f"(symptom {defect.symptom.describe()}); update the marker or the registry"
            )
            return


def _state(report: Any, entry: defects.KnownDefect | defects.BehaviourChange, device: str) -> str:
    """The probe's answer; a probe that raises leaves the failure unclassified and says why."""
    try:
        return defects.state(entry, device)
    except Exception as exc:  # the failure stays a failure; the note says the probe broke
        report.sections.append(("fizzcheck history", f"probe of {entry.id} on {device} raised {exc!r}"))
        return "unknown"


def register(config: pytest.Config) -> None:
    """Add the markers and the plugin object to this pytest run (called from fizzcheck's pytest_configure)."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(HistoryPlugin(), "fizzcheck-history")
