"""The `michimori` command as a user meets it: every subcommand has --help with an example."""

from __future__ import annotations

import argparse

import pytest

from michimori.cli import _GROUPS, build_parser


def _subcommands() -> list[tuple[str, str]]:
    out = []
    for group, _help, _mods in _GROUPS:
        if group == "demo":
            out.append(("demo", ""))
            continue
        parser = build_parser([group])
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        gp = sub.choices[group]
        gsub = next(a for a in gp._actions if isinstance(a, argparse._SubParsersAction))
        out.extend((group, name) for name in gsub.choices)
    return out


SUBCOMMANDS = _subcommands()


def test_every_part_has_its_commands() -> None:
    names = {f"{g} {c}".strip() for g, c in SUBCOMMANDS}
    for expected in (
        "services up",
        "services down",
        "services status",
        "edge run",
        "edge check",
        "ingest run",
        "ingest check",
        "sim fleet",
        "sim world",
        "sim render",
        "sim vehicle",
        "inspect plan",
        "inspect fly",
        "bench ingest",
        "bench edge",
        "demo",
    ):
        assert expected in names


@pytest.mark.parametrize(("group", "command"), SUBCOMMANDS)
def test_help_has_an_example(group: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [group, command, "--help"] if command else [group, "--help"]
    with pytest.raises(SystemExit) as info:
        build_parser(argv).parse_args(argv)
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "xample" in text, f"`michimori {' '.join(argv)}` has no example"
    assert f"michimori {group}" in text


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser(["nope"]).parse_args(["nope"])
    assert info.value.code == 2
