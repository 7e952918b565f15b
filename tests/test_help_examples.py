"""Every command's --help ends with examples that parse as that command's real options, and no
option goes without help text (issue 17 item 8)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import Any

import pytest
import typer.main

from bulkx.cli.examples import EXAMPLES
from bulkx.cli.main import app

ROOT = typer.main.get_command(app)


def _commands() -> dict[str, Any]:
    """Command path ("plan", "sandbox serve") -> the click command, groups expanded. (Typer
    carries its own copy of click: its classes are not `click`'s, so groups are told by what
    they can do.)"""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        context = group.context_class(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None
            if hasattr(command, "list_commands"):
                walk(command, f"{prefix}{name} ")
            if not hasattr(command, "list_commands") or command.invoke_without_command:
                found[f"{prefix}{name}"] = command

    walk(ROOT, "")
    return found


COMMANDS = _commands()


def test_every_command_has_examples() -> None:
    assert sorted(set(COMMANDS) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(COMMANDS)) == [], "examples of commands that do not exist"


@pytest.mark.parametrize(
    ("path", "example"), [(p, c) for p, examples in EXAMPLES.items() for _, c in examples]
)
def test_each_example_parses_as_the_command_s_real_options(path: str, example: str) -> None:
    words = shlex.split(example)
    if ">" in words:  # the shell's redirection, not the command's
        words = words[: words.index(">")]
    assert words[0] == "bulkx" and " ".join(words[1 : 1 + len(path.split())]) == path
    command = COMMANDS[path]
    # Parsing only: options and arguments must exist and take what the example gives them.
    command.make_context(path, words[1 + len(path.split()) :])


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_says_what_it_does(path: str) -> None:
    silent = [
        param.opts[0]
        for param in COMMANDS[path].params
        if param.param_type_name == "option" and not param.hidden and not param.help
    ]
    assert silent == []


def test_the_examples_show_in_help_one_per_line() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bulkx", "apply", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "\n  Examples:\n" in shown
    assert "\n    bulkx apply plans/port-in.yaml --yes --rate 40\n" in shown


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_each_command_s_help_shows_its_examples(path: str) -> None:
    command = COMMANDS[path]
    shown = command.get_help(command.context_class(command, info_name=path))
    for _, example in EXAMPLES[path]:
        assert f"\n    {example}\n" in shown + "\n"
