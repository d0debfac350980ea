"""Commands written in the README and the CI workflow name things that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from fizzcheck.cli import app as cli
from fizzcheck.cli.mutants import mutants

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    ROOT / "README.md",
    ROOT / ".github" / "workflows" / "fizzcheck.yml",
    ROOT / ".ci" / "run",
    *sorted((ROOT / "docs").glob("*.md")),
]
NOX_COMMANDS = {"run": "fizzcheck run", "verify": "fizzcheck verify", "bench": "fizzcheck bench",
                "train": "fizzcheck train", "mutants": "python -m fizzcheck.mutants run",
                "compat": "python -m fizzcheck.mutants compat"}  # fmt: skip
"""What `nox -s SESSION -- ARGS` passes its ARGS to (noxfile.py)."""


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
    commands = set(cli.fizzcheck.commands)
    for path in TEXTS:
        # "the fizzcheck checkout" (printed by a reproducer) is prose, not a command
        for name in re.findall(r"(?<![\w/.-])(?<!the )(?<!from )fizzcheck (\w+)", _code(path)):
            assert name in commands, f"{path.name} mentions `fizzcheck {name}`; the CLI has {sorted(commands)}"


def _command_lines(text: str) -> list[str]:
    """Each `fizzcheck ...`, `python -m fizzcheck.mutants ...` or `nox -s S -- ...` call, as the CLI sees it."""
    calls = []
    for line in text.splitlines():
        for part in re.split(r"&&|\|\||;|\|(?!\w)", line):
            nox = re.search(r"nox -s (\w+) -- (.*)", part)
            if nox and nox.group(1) in NOX_COMMANDS:
                calls.append(f"{NOX_COMMANDS[nox.group(1)]} {nox.group(2)}")
            elif found := re.search(
                r"(?<![\w/.-])(?<!the )(?<!from )((?:python -m )?fizzcheck(?:\.mutants)? .*)", part
            ):
                calls.append(found.group(1))
    return calls


def _resolve(words: list[str]) -> tuple[click.Command, list[str]] | None:
    """The click command a documented call names, and the words after it."""
    program, *rest = words
    command: click.Command = mutants if program == "fizzcheck.mutants" else cli.fizzcheck
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    return None if isinstance(command, click.Group) else (command, rest)


def test_every_option_mentioned_exists():
    checked = 0
    for path in TEXTS:
        for call in _command_lines(_code(path)):
            words = shlex.split(call.replace("[", " ").replace("]", " ").replace("python -m ", ""))
            resolved = _resolve(words)
            if resolved is None:
                continue
            command, rest = resolved
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
            words_before_pytest = rest[: rest.index("--")] if "--" in rest else rest
            for word in words_before_pytest:
                if word.startswith("-"):
                    name = word.split("=", 1)[0]
                    assert name in options, f"{path.name}: `{call}` uses {name}; {command.name} has {sorted(options)}"
                    checked += 1
    assert checked >= 20


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    (command,) = re.findall(r"python3 -m pip install nox && (nox -s tests[^\n#]*?)\s+#", readme)
    assert f"python3 -m {command.strip()}" in ci
