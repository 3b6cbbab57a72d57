"""A rebuild says why, and a new base is a rebase, on the real registry: the miss line names what moved since the
newest image, `depimage diff` says the same without building, and a base image pushed anew under its tag puts
the same dependency layers on it (nothing reinstalled, no dependency layer sent)."""

from __future__ import annotations

import json
import re

import pytest

from e2e import UV_VERSION, docker, fresh, get_json, layered, registry_get
from faultproxy import FaultProxy
from helpers import cli, copy, uv
from realworld import checkout

pytestmark = pytest.mark.e2e


def test_a_miss_names_the_package_and_the_option_that_moved(app, sandbox, registry_base, tmp_path, run_id):
    image = f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/why-{run_id}"
    first, proc = layered(app, registry_base, image)
    assert first and "what changed" not in proc.stderr and first["changes"] is None  # nothing to compare with
    uv("add", "-q", "--no-sync", "six==1.16.0", cwd=app)
    locked = re.search(r'name = "six"\nversion = "([^"]+)"', (app / "uv.lock").read_text())[1]
    second, proc = layered(app, registry_base, image, env=fresh(tmp_path, "b"))
    assert "~ six 1.17.0 -> 1.16.0" in proc.stderr and locked == "1.16.0", proc.stderr
    assert second["changes"]["changed"] == [{"name": "six", "old": "1.17.0", "new": "1.16.0"}]
    assert second["changes"]["added"] == second["changes"]["removed"] == second["changes"]["options"] == []
    third, proc = layered(app, registry_base, image, "--platform", "linux/amd64")
    assert third["changes"]["options"] == [{"option": "platforms", "old": [], "new": ["linux/amd64"]}]
    assert "option platforms: [] -> [\"linux/amd64\"]" in proc.stderr
    again, proc = layered(app, registry_base, image, "--platform", "linux/amd64")
    assert again["cache_hit"] and again["changes"] is None and "what changed" not in proc.stderr


def test_diff_between_two_revisions_of_a_real_project_prints_exactly_the_change(tmp_path, sandbox, registry_base,
                                                                                 run_id):
    before = checkout("uv-fastapi-example", tmp_path / "a").project
    after = copy(before, tmp_path / "b" / "uv-fastapi-example")
    lock = (after / "uv.lock").read_text()
    entry = re.search(r'\[\[package\]\]\nname = "idna"\nversion = "([^"]+)"\n.*?\n\n', lock, re.S)
    old = entry[1]
    new = old + ".post1"
    (after / "uv.lock").write_text(lock.replace(entry[0], entry[0].replace(f'version = "{old}"', f'version = "{new}"')
                                                .replace(f"idna-{old}", f"idna-{new}")))
    code, out, err = cli("diff", str(before), str(after), "--uv-version", UV_VERSION)
    assert code == 0, err
    assert out.strip() == f"~ idna {old} -> {new}"
    code, out, err = cli("diff", str(before), str(before), "--uv-version", UV_VERSION)
    assert out.strip() == "no difference in what gets installed"



def test_diff_between_an_image_and_a_folder_reads_the_image_record(app, sandbox, registry_base, tmp_path, run_id):
    done, proc = layered(app, registry_base, f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/diff-{run_id}")
    assert done, proc.stderr
    uv("add", "-q", "--no-sync", "six==1.16.0", cwd=app)
    code, out, err = cli("diff", done["image"], str(app), "--uv-version", UV_VERSION, "--no-dev", "--base-image",
                         registry_base)
    assert code == 0 and out.strip() == "~ six 1.17.0 -> 1.16.0", out + err
    code, out, err = cli("diff", done["image"], str(app), "--uv-version", UV_VERSION, "--base-image", registry_base,
                         "--output", "json")
    changes = json.loads(out)
    assert changes["changed"] == [{"name": "six", "old": "1.17.0", "new": "1.16.0"}]
    assert {"option": "no_dev", "old": True, "new": False} in changes["options"]
    assert changes["added"] == [{"name": "iniconfig", "version": changes["added"][0]["version"]}]  # the dev group


def test_a_new_base_under_the_same_tag_is_a_rebase_not_a_reinstall(app, sandbox, registry_base, tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    base_repo, repository = f"e2e/rebase-base-{run_id}", f"e2e/rebase-{run_id}"
    pushed_base = f"{registry}/{base_repo}:3.11"
    docker("tag", sandbox["DEPIMAGE_TEST_BASE_IMAGE"], pushed_base)
    docker("push", "-q", pushed_base)
    # every run through one recording proxy: base and image on one registry (so the base's layers are mounted)
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        base, target = f"{proxy.address}/{base_repo}:3.11", f"{proxy.address}/{repository}"
        first, proc = layered(app, base, target)
        assert first, proc.stderr
        pinned, _ = layered(app, base, target, "--base-digest", "pin")
        assert pinned["tag"] != first["tag"]  # the choice is in the hash, so visible in the tag

        context = tmp_path / "newbase"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {sandbox['DEPIMAGE_TEST_BASE_IMAGE']}\n"
                                            "RUN echo fixed > /etc/security-fix\n")
        docker("build", "-q", "--network=host", "-t", pushed_base, str(context))
        docker("push", "-q", pushed_base)
        new_base = get_json(registry, base_repo, "3.11")

        proxy.log.clear()
        rebased, proc = layered(app, base, target, env=fresh(tmp_path, "r"))
        uploads = [path for method, path, _ in proxy.log if method == "PUT" and "/blobs/uploads/" in path]
        assert rebased and rebased["rebased"] and not rebased["built"] and rebased["tag"] == first["tag"], proc.stderr
        assert "rebasing, the dependency layers on the new base" in proc.stderr
        # a fresh runner reads only the base's new layer: the image recorded what the old layers hold
        assert "reading 1 layer(s) of the base image" in proc.stderr and "installing 0 package(s)" in proc.stderr
        assert len(uploads) == 1, uploads  # the config alone: no dependency layer, the base's new layer mounted
        assert rebased["digest"] != first["digest"] and rebased["changes"]["base"]["new"] != first["digest"]
        manifest = get_json(registry, repository, first["tag"])
        assert [layer["digest"] for layer in manifest["layers"][:len(new_base["layers"])]] == \
            [layer["digest"] for layer in new_base["layers"]]
        assert registry_get(registry, repository, "manifests", first["digest"]).status_code == 200  # the old one stays by digest
        again, proc = layered(app, base, target)
        assert again["cache_hit"], proc.stderr
        still, proc = layered(app, base, target, "--base-digest", "pin")
        assert still["cache_hit"] and still["digest"] == pinned["digest"]  # pinned: it kept its base
    ref = f"{registry}/{repository}:{first['tag']}"
    docker("pull", "-q", ref)
    out = docker("run", "--rm", "--network", "none", ref, "sh", "-c", "cat /etc/security-fix && python -c 'import six'")
    assert out.stdout.strip() == "fixed"
