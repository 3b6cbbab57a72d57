"""The action's input and output plumbing, without a container (the container run is test_action_e2e.py)."""

from __future__ import annotations

import io

import pytest

from depimage.doors import actions_protocol as workflow
from depimage.doors.action import parse_secrets, read_inputs
from depimage.errors import InputError


def test_inputs_as_the_runner_names_them():
    env = {"INPUT_PROJECT-DIR": "svc", "INPUT_NO-DEV": "true", "INPUT_GROUPS": "a, b\nc", "INPUT_IMAGE": "r.io/x"}
    assert workflow.get_input("project-dir", ".", env) == "svc"
    assert workflow.get_bool("no-dev", False, env) is True
    assert workflow.get_list("groups", env) == ["a", "b", "c"]
    assert workflow.get_input("missing", "dflt", env) == "dflt"
    with pytest.raises(ValueError):
        workflow.get_bool("no-dev", False, {"INPUT_NO-DEV": "yes please"})


def test_request_carries_secret_ids_never_values():
    env = {"INPUT_IMAGE": "r.io/x", "INPUT_SECRETS": "UV_INDEX_A_PASSWORD=hunter2\n\nUV_INDEX_A_USERNAME=bob\n",
           "INPUT_EXTRAS": "pg", "INPUT_GROUPS": "lint, docs", "INPUT_NO-DEV": "true", "INPUT_PACKAGE": "api",
           "INPUT_REGISTRY-PASSWORD": "pw-123"}
    inputs = read_inputs(env)
    request = inputs.image.options
    assert [s.id for s in inputs.image.secrets] == ["UV_INDEX_A_PASSWORD", "UV_INDEX_A_USERNAME"]
    assert "hunter2" not in repr(inputs) and "pw-123" not in repr(inputs) and "bob" not in repr(inputs)
    assert (request.extras, request.groups, request.no_dev, request.package) == (("pg",), ("docs", "lint"), True, "api")  # canonical order


def test_step_location_finds_the_step_in_the_workflow(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "other.yml").write_text("name: other\non: push\n")
    (folder / "image.yml").write_text("name: image\non: push\njobs:\n  a:\n    steps:\n      - uses: a/b@v1\n"
                                      "      - id: deps\n        uses: depimage/depimage@v0\n")
    env = {"GITHUB_WORKFLOW": "image", "GITHUB_ACTION": "deps"}
    assert workflow.step_location(env, tmp_path) == (".github/workflows/image.yml", 7)
    env = {"GITHUB_WORKFLOW_REF": "acme/shop/.github/workflows/image.yml@refs/heads/main", "GITHUB_ACTION": "__x"}
    assert workflow.step_location(env, tmp_path) == (".github/workflows/image.yml", 8)
    assert workflow.step_location({"GITHUB_WORKFLOW": "gone"}, tmp_path) == (None, None)


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
