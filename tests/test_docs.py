"""Commands written in the README and the CI workflow name things that exist."""

from __future__ import annotations

import re
from pathlib import Path

from fizzcheck.cli import app as cli

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [ROOT / "README.md", ROOT / ".github" / "workflows" / "fizzcheck.yml", ROOT / ".ci" / "run"]


def _code(path: Path) -> str:
    """What a user would type: code blocks and `inline code` of Markdown; whole scripts otherwise."""
    text = re.sub(r"(^|\s)#.*", "", path.read_text())  # comments are prose
    if path.suffix != ".md":
        return text
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return "\n".join(blocks + inline)


def _nox_sessions() -> set[str]:
    return set(re.findall(r"^def (\w+)\(session", (ROOT / "noxfile.py").read_text(), flags=re.MULTILINE))


def test_every_nox_session_mentioned_exists():
    sessions = _nox_sessions()
    for path in TEXTS:
        for group in re.findall(r"nox -s ((?:[a-z_][\w-]* ?)+)", _code(path)):
            for name in group.split():
                assert name in sessions, f"{path.name} mentions nox session {name!r}; noxfile has {sorted(sessions)}"


def test_every_fizzcheck_subcommand_mentioned_exists():
    commands = set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for path in TEXTS:
        # "the fizzcheck checkout" (printed by a reproducer) is prose, not a command
        for name in re.findall(r"(?<![\w/.-])(?<!the )fizzcheck (\w+)", _code(path)):
            assert name in commands, f"{path.name} mentions `fizzcheck {name}`; the CLI has {sorted(commands)}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    (command,) = re.findall(r"python3 -m pip install nox && (nox -s tests[^\n#]*?)\s+#", readme)
    assert f"python3 -m {command.strip()}" in ci
