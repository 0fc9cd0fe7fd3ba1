"""The shared flags (--seed, --seeds, --out, --no-progress, --threads) mean the same in every
command: the whole argparse tree is walked, so a new command cannot define one differently."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from makeable.cli import flags, plan
from makeable.cli.main import build_parser, main


def _commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(``"bench pmo"``, its parser) for every leaf command."""

    def walk(
        parser: argparse.ArgumentParser, path: str
    ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser
        for sub in subs:
            for name, child in sub.choices.items():
                yield from walk(child, f"{path} {name}".strip())

    yield from walk(build_parser(), "")


COMMANDS = dict(_commands())


def _flag(parser: argparse.ArgumentParser, option: str) -> argparse.Action | None:
    return next((a for a in parser._actions if option in a.option_strings), None)


def _problems(action: argparse.Action) -> list[str]:
    """How ``action`` differs from the shared definition of its flag (none: it is shared)."""
    option = action.option_strings[-1]
    problems = []
    if option == "--no-progress":
        if not isinstance(action, argparse._StoreTrueAction):
            problems.append("not store_true")
        if action.help != flags.NO_PROGRESS_HELP:
            problems.append(f"help {action.help!r}, not flags.NO_PROGRESS_HELP")
    elif option == "--threads":
        if action.type is not flags.threads_count or action.default != 0:
            problems.append("type/default not flags.threads_count / 0")
        if action.help != flags.THREADS_HELP:
            problems.append(f"help {action.help!r}, not flags.THREADS_HELP")
    elif option == "--seed":
        if action.type is not int:
            problems.append("type not int")
        if not (action.help or "").startswith(flags.SEED_HELP):
            problems.append(f"help {action.help!r} does not begin with flags.SEED_HELP")
    elif option == "--seeds":
        if action.type is not int or action.nargs != "+":
            problems.append("not int, nargs '+'")
        if not (action.help or "").startswith(flags.SEEDS_HELP):
            problems.append(f"help {action.help!r} does not begin with flags.SEEDS_HELP")
    elif option == "--out" and (
        action.type is not None or action.metavar != "OUT" or not action.help
    ):
        problems.append("not made by flags.add_out (a path, metavar OUT, a help text)")
    return problems


SHARED = ("--seed", "--seeds", "--out", "--no-progress", "--threads")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_shared_flags_are_defined_once(command):
    parser = COMMANDS[command]
    for option in SHARED:
        action = _flag(parser, option)
        if action is not None:
            assert action.option_strings == [option], f"{command} {option}: other spellings"
            problems = _problems(action)
            assert not problems, f"`makeable {command}` {option}: {'; '.join(problems)}"


def test_long_commands_have_no_progress():
    """A command that runs jobs or a budget (long work) can hide its progress."""
    long = [
        c
        for c, p in COMMANDS.items()
        if any(_flag(p, o) for o in ("--jobs", "--budget", "--max-calls", "--epochs"))
    ]
    assert "design" in long and "bench pmo" in long
    missing = [c for c in long if _flag(COMMANDS[c], "--no-progress") is None]
    assert set(missing) <= {"retro train-value"}  # seconds of training, no progress display


def test_threads_where_torch_runs_in_the_process():
    have = {c for c, p in COMMANDS.items() if _flag(p, "--threads")}
    assert {
        "design",
        "prior train",
        "prior sample",
        "retro train",
        "retro plan",
        "retro improve",
        "bench planning",
        "bench uspto50k",
        "synth label",
        "synth train",
    } <= have


def test_threads_is_applied_for_the_command_and_restored(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    seen = []
    monkeypatch.setattr(plan, "run_train_value", lambda args: seen.append(torch.get_num_threads()))
    argv = ["retro", "train-value", "plans.jsonl", "--out", "o", "--threads", str(before + 1)]
    assert main(argv) == 0
    assert seen == [before + 1] and torch.get_num_threads() == before
    assert main(argv[:-2]) == 0 and seen[-1] == before  # default 0: torch's own setting


@pytest.mark.parametrize("value", ["-1", "two"])
def test_threads_refuses_a_bad_count(value, capsys):
    with pytest.raises(SystemExit):
        main(["retro", "train-value", "p.jsonl", "--out", "o", "--threads", value])
    assert "--threads" in capsys.readouterr().err


def test_device_flag_is_checked_before_any_work(capsys):
    """--device names a device torch can use here, or the command stops at once, one line."""
    import torch

    from makeable.runtime import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="expected one of cpu, cuda"):
        resolve_device("gpu")
    for command in ("prior train", "retro train"):
        assert _flag(COMMANDS[command], "--device") is not None, command
    argv = ["prior", "train", "--device", "gpu", "--out", "x"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "argument --device: expected one of cpu, cuda, cuda:N, auto" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device"):
            resolve_device("cuda")


def test_executor_flags_are_shared_where_jobs_spread_work():
    """Every command whose --jobs spreads runs or targets takes --executor and --address from
    flags.add_executor (design's come from its config, with Ray among the choices)."""
    from makeable.oracle.executor import ADDRESS_HELP, EXECUTOR_KINDS

    spread = {
        "bench pmo", "bench makeable", "bench guacamol", "bench plogp",
        "bench constrained-plogp", "bench properties", "bench proxy", "bench seq",
        "bench planning", "retro improve", "synth label",
    }  # fmt: skip
    have = {c for c, p in COMMANDS.items() if _flag(p, "--executor")}
    assert spread | {"design"} <= have
    for command in have:
        executor = _flag(COMMANDS[command], "--executor")
        address = _flag(COMMANDS[command], "--address")
        assert executor is not None and address is not None, command
        assert tuple(executor.choices or ()) == EXECUTOR_KINDS, command
        assert address.help == ADDRESS_HELP, command
        if command != "design":
            assert executor.default == "process" and _flag(COMMANDS[command], "--jobs"), command
