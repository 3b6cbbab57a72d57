"""What both doors parse alike: NAME=VALUE lists, secrets and the host, with the door's own names in errors."""

from __future__ import annotations

import pytest

from depimage.doors.action import input_name
from depimage.doors.inputs import host_from, pairs, secret_from_spec
from depimage.errors import InputError, opt


def test_pairs():
    assert pairs(["A=1", "B=x=y", "C="], "--env") == (("A", "1"), ("B", "x=y"), ("C", ""))
    with pytest.raises(InputError, match="--env 'nope' is not NAME=VALUE"):
        pairs(["nope"], "--env")


def test_secret_specs(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    env = {"UV_INDEX_A_PASSWORD": "from-env", "OTHER": "other-env"}
    assert secret_from_spec("UV_INDEX_A_PASSWORD", env, need_value=True, what="--secret").value == "from-env"
    assert secret_from_spec("UV_INDEX_A_PASSWORD=OTHER", env, need_value=True, what="--secret").value == "other-env"
    found = secret_from_spec(f"X={tmp_path / 'token'}", env, need_value=True, what="--secret")
    assert (found.id, found.value) == ("X", "from-file")
    assert secret_from_spec("id=X,env=OTHER", env, need_value=True, what="--secret").value == "other-env"
    assert secret_from_spec(f"id=X,src={tmp_path / 'token'}", env, need_value=True, what="--secret").value == "from-file"
    assert secret_from_spec("MISSING", {}, need_value=False, what="--secret").value == ""  # hash needs the id only
    with pytest.raises(InputError) as err:
        secret_from_spec("MISSING", {}, need_value=True, what="--secret")
    assert "--secret 'MISSING'" in str(err.value)
    assert "from-env" not in repr(secret_from_spec("UV_INDEX_A_PASSWORD", env, need_value=True, what="--secret"))


def test_host_from_ci_variables():
    host = host_from({"GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "abc", "DEPIMAGE_BUILD_NETWORK": "host"})
    assert (host.source, host.revision, host.build_network) == ("https://github.com/acme/shop", "abc", "host")
    assert host_from({}).source == "" and "GITHUB_SHA" not in repr(host)


def test_each_door_names_an_option_its_way():
    error = InputError(f"{opt('context')} is not a directory", hint=f"see {opt('build_args')}")
    assert str(InputError(error.message)) == "--context is not a directory"
    error.name_options(input_name)
    assert error.message == "input context is not a directory" and error.hint == "see input build-args"
