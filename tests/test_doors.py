"""The two doors agree: every CLI option of ensure, plan, app and hash has an action input and the reverse,
action.yml declares exactly what action.py reads, and the same choice parses to the same request either way."""

from __future__ import annotations

import argparse
import re
import threading
import time

import pytest

from depimage.doors import action, actions_protocol, cli
from depimage.doors.cli import build_parser, image_request
from helpers import REPO

# CLI option -> action input, where the names differ; None: no input, and why.
CLI_TO_INPUT = {
    "project_dir": "project-dir", "--group": "groups", "--extra": "extras", "--platform": "platforms",
    "--build-arg": "build-args", "--secret": "secrets", "--port": "ports", "--label": "labels",
    "--network": "build-network", "--no-push": "push", "--no-check": "check",
    "--registry-password-stdin": "registry-password", "--command": "command",
    "--output": None,  # the action has outputs instead of a printed report
    "--json": None,  # likewise: mode hash's `installed` output carries the report's installed set
    "-h": None,  # --help
}
ONLY_IN_ACTION = {"mode"}  # the CLI's subcommand


def declared(section: str) -> set[str]:
    text = (REPO / "action.yml").read_text()
    body = re.search(rf"^{section}:\n(.*?)(?=^\S)", text, re.M | re.S).group(1)
    return set(re.findall(r"^  ([a-z][a-z-]*):\s*$", body, re.M))


def cli_options() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = set()
    for command in ("hash", "ensure", "plan", "app"):
        for act in sub.choices[command]._actions:
            found.add(act.option_strings[0] if act.option_strings else act.dest)
    return found


def as_input(option: str) -> str | None:
    return CLI_TO_INPUT.get(option, option.removeprefix("--"))


def test_every_cli_option_has_an_input_and_every_input_an_option():
    inputs = declared("inputs")
    mapped = {as_input(o) for o in cli_options()} - {None}
    assert mapped - inputs == set(), "CLI options without an action input"
    assert inputs - mapped - ONLY_IN_ACTION == set(), "action inputs without a CLI option"


def test_action_yml_declares_exactly_what_action_py_reads(monkeypatch):
    read: set[str] = set()
    real = actions_protocol.get_input

    def recording(name, default="", env=None):
        read.add(name)
        return real(name, default, env)

    monkeypatch.setattr(actions_protocol, "get_input", recording)
    action.read_inputs({})
    assert read == declared("inputs")


def test_outputs_are_declared():
    from depimage.usecases.app import AppResult
    from depimage.usecases.ensure import EnsureResult
    from depimage.usecases.plan import Plan

    produced = set(EnsureResult("i", "t", "d", "h", True, False, 0.0).outputs())
    produced |= set(AppResult("i", "d", "x", [], 0, 0, []).outputs()) | set(Plan([]).outputs())
    produced |= {"hash", "tag", "image", "installed"}  # mode hash (action.run_hash)
    assert produced == declared("outputs")


SAME_CHOICE = [
    (["--all-extras"], {"INPUT_ALL-EXTRAS": "true"}),
    (["--all-groups"], {"INPUT_ALL-GROUPS": "true"}),
    (["--no-default-groups"], {"INPUT_NO-DEFAULT-GROUPS": "true"}),
    (["--no-dev"], {"INPUT_NO-DEV": "true"}),
    (["--group", "a", "--group", "b"], {"INPUT_GROUPS": "a, b"}),
    (["--extra", "pg"], {"INPUT_EXTRAS": "pg"}),
    (["--package", "api"], {"INPUT_PACKAGE": "api"}),
    (["--platform", "linux/amd64,linux/arm64"], {"INPUT_PLATFORMS": "linux/amd64\nlinux/arm64"}),
    (["--build-arg", "UV_INDEX_STRATEGY=unsafe-best-match", "--build-arg", "A=b=c"],
     {"INPUT_BUILD-ARGS": "UV_INDEX_STRATEGY=unsafe-best-match\nA=b=c\n"}),
    (["--base-image", "python:3.13-slim", "--uv-version", "0.9.0", "--uv-image", "r/uv:1"],
     {"INPUT_BASE-IMAGE": "python:3.13-slim", "INPUT_UV-VERSION": "0.9.0", "INPUT_UV-IMAGE": "r/uv:1"}),
]


@pytest.mark.parametrize("argv, env", SAME_CHOICE, ids=[" ".join(a)[:40] for a, _ in SAME_CHOICE])
def test_same_choice_same_request(argv, env):
    args = build_parser().parse_args(["ensure", "--image", "r.io/x", *argv])
    assert image_request(args, {}) == action.read_inputs(env).image != action.read_inputs({}).image


def test_a_bad_boolean_names_its_input():
    from depimage.errors import InputError

    with pytest.raises(InputError, match="all-extras"):
        action.read_inputs({"INPUT_ALL-EXTRAS": "sure"})


SAME_RUNTIME = [
    (["--command", "api --port 8000"], {"INPUT_COMMAND": "api --port 8000"}),
    (["--command", '["api", "--port", "8000"]'], {"INPUT_COMMAND": '["api", "--port", "8000"]'}),
    (["--command", '["api"]'], {"INPUT_COMMAND": "api"}),
    (["--entrypoint", "[]"], {"INPUT_ENTRYPOINT": "[]"}),
    (["--entrypoint", "tini --"], {"INPUT_ENTRYPOINT": '["tini", "--"]'}),
    (["--workdir", "/srv", "--user", "1000:1000"], {"INPUT_WORKDIR": "/srv", "INPUT_USER": "1000:1000"}),
    (["--env", "A=1", "--env", "B=x=y"], {"INPUT_ENV": "A=1\nB=x=y\n"}),
    (["--port", "8000", "--port", "53/udp"], {"INPUT_PORTS": "8000, 53/udp"}),
    (["--label", "a=b"], {"INPUT_LABELS": "a=b"}),
    (["--include", "config/*.yaml"], {"INPUT_INCLUDE": "config/*.yaml"}),
]


@pytest.mark.parametrize("argv, env", SAME_RUNTIME, ids=[" ".join(a)[:40] for a, _ in SAME_RUNTIME])
def test_same_runtime_choice_same_request(argv, env):
    """Every runtime option of `app` through both doors: a JSON command, words, and `[]` for no entrypoint."""
    from depimage.doors.cli import runtime_options

    args = build_parser().parse_args(["app", "--image", "r.io/x", "--tag", "1", *argv])
    assert runtime_options(args) == action.read_inputs(env).runtime != action.read_inputs({}).runtime


def test_an_empty_cli_entrypoint_clears_as_the_json_list_does():
    from depimage.doors.cli import runtime_options

    empty = runtime_options(build_parser().parse_args(["app", "--image", "r.io/x", "--tag", "1", "--entrypoint", ""]))
    assert empty.entrypoint == () == action.read_inputs({"INPUT_ENTRYPOINT": "[]"}).runtime.entrypoint


def test_action_yml_declares_each_table_option_with_the_table_default():
    """The option table (doors/options.py) is the one source: action.yml must declare each of its inputs with the
    default the table gives (false for a flag, the first choice, else empty)."""
    from depimage.doors.options import IMAGE_OPTIONS, RUNTIME_OPTIONS

    text = (REPO / "action.yml").read_text()
    for o in IMAGE_OPTIONS + RUNTIME_OPTIONS:
        found = re.search(rf"^  {re.escape(o.input)}:\n    description: .*\n    default: (.*)$", text, re.M)
        assert found, f"action.yml has no input {o.input}"
        expected = "false" if o.kind == "flag" else o.choices[0] if o.choices else ""
        assert found[1].strip().strip('"') == expected, (o.input, found[1])


class _SlowStream:
    """A stream that yields to other threads inside every write, as a pipe to a busy reader does."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        time.sleep(0.0005)
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("door, stream", [(cli, "stderr"), (action, "stdout")])
def test_status_lines_from_many_threads_never_run_together(monkeypatch, door, stream):
    """The platforms' pipelines say their lines from several threads at once (a CI log once had two on one line
    and an empty one after)."""
    out = _SlowStream()
    monkeypatch.setattr(f"sys.{stream}", out)
    lines = [f"linux/arm{t}: pushing the layer of group {n}" for t in range(4) for n in range(25)]
    threads = [threading.Thread(target=lambda t=t: [door._status(line) for line in lines[t * 25:(t + 1) * 25]])
               for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = "".join(out.parts).splitlines()
    assert sorted(written) == sorted(f"depimage: {line}" for line in lines)
