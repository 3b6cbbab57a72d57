"""The action's input and output plumbing, without a container (the container run is test_action_e2e.py)."""

from __future__ import annotations

import io

import pytest

from depimage import workflow
from depimage.action import argv_from_inputs, parse_secrets
from depimage.errors import InputError


def test_inputs_as_the_runner_names_them():
    env = {"INPUT_PROJECT-DIR": "svc", "INPUT_NO-DEV": "true", "INPUT_GROUPS": "a, b\nc", "INPUT_IMAGE": "r.io/x"}
    assert workflow.get_input("project-dir", ".", env) == "svc"
    assert workflow.get_bool("no-dev", False, env) is True
    assert workflow.get_list("groups", env) == ["a", "b", "c"]
    assert workflow.get_input("missing", "dflt", env) == "dflt"
    with pytest.raises(ValueError):
        workflow.get_bool("no-dev", False, {"INPUT_NO-DEV": "yes please"})


def test_argv_carries_secret_ids_never_values():
    env = {"INPUT_IMAGE": "r.io/x", "INPUT_SECRETS": "UV_INDEX_A_PASSWORD=hunter2\n\nUV_INDEX_A_USERNAME=bob\n",
           "INPUT_EXTRAS": "pg", "INPUT_PUSH": "false", "INPUT_REGISTRY-PASSWORD": "pw-123"}
    argv = argv_from_inputs(env)
    assert argv[:2] == ["ensure", "."]
    assert "hunter2" not in argv and "pw-123" not in argv and "bob" not in argv
    assert argv.count("--secret") == 2 and "--no-push" in argv and ["--extra", "pg"] == argv[argv.index("--extra"):][:2]


def test_bad_secret_line_names_its_number_not_its_value():
    with pytest.raises(InputError) as err:
        parse_secrets("A=1\nnot-a-pair-secretvalue\n")
    assert "line 2" in str(err.value) and "secretvalue" not in str(err.value)


def test_outputs_survive_any_value(tmp_path):
    out = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(out)}
    workflow.set_output("matrix", '{"include": [\n]}', env)
    text = out.read_text()
    name, rest = text.split("<<", 1)
    delimiter, value = rest.split("\n", 1)
    assert name == "matrix" and value == '{"include": [\n]}\n' + delimiter + "\n"


def test_annotation_escaping():
    buf = io.StringIO()
    workflow.command("error", "50% done\nnext", out=buf, file="a,b:c.toml", line=3, title="depimage")
    assert buf.getvalue() == "::error file=a%2Cb%3Ac.toml,line=3,title=depimage::50%25 done%0Anext\n"
