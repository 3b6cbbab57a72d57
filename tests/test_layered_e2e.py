"""The layered dependency image end to end: assembled from the lock on the real Distribution registry without a
builder, run by the real engine, compared with the builder's image of the same selection; reproducible across
caches, folders, umasks and registries; a small dependency change costs one layer; multi-platform without an
emulator; private indexes without a trace of their password; the builder path and clear errors where wheels or
the base image cannot serve."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from e2e import UV_VERSION, blob, docker, fresh, get_json, layered, multiplatform_base, registry_tags, synthetic_image
from faultproxy import FaultProxy
from helpers import REPO, copy, depimage, make_app, uv
from pyindex import PACKAGE, build_wheel, serve, use_private_index
from realworld import checkout

pytestmark = pytest.mark.e2e

DISTS = r'''
import hashlib, importlib.metadata as md, json, os
out = {}
for d in md.distributions():
    files = sorted((str(f), f.hash.value if f.hash else None, f.size) for f in d.files or []
                   if "__pycache__" not in str(f) and not str(f).endswith((".pyc", "RECORD")))
    out[d.metadata["Name"].lower()] = [d.version, files]
# the bytecode: every .pyc in the venv, by path, with the hash of its code (after the 16-byte header, which
# names the source's time: the builder's files keep uv's times, the layered image's one fixed time)
pycs = {}
for root, _, names in os.walk("/opt/venv"):
    for name in names:
        if name.endswith(".pyc"):
            with open(os.path.join(root, name), "rb") as fh:
                pycs[os.path.join(root, name)] = hashlib.sha256(fh.read()[16:]).hexdigest()
out["(bytecode)"] = pycs
print(json.dumps(out, sort_keys=True))
'''


def builder(project: Path, sandbox, uv_image: str, image: str) -> dict:
    proc = depimage("ensure", str(project), "--image", image, "--base-image", sandbox["DEPIMAGE_TEST_BASE_IMAGE"],
                    "--uv-version", UV_VERSION, "--uv-image", uv_image, "--network", "host", "--no-dev",
                    "--builder", "docker", "--output", "json")
    return json.loads(proc.stdout)


def same_installs(ours: dict, theirs: dict) -> None:
    """Every distribution, RECORD file and hash the same, and the same .pyc files. Their code is compared too: it
    may differ only where the compiling interpreters' patch releases do (the layered image's bytecode comes from
    this machine's 3.11.7, the builder's from the base's 3.11.2: on the heavy set 9 of 3870 files), never
    wholesale."""
    our_pycs, their_pycs = ours.pop("(bytecode)"), theirs.pop("(bytecode)")
    assert ours == theirs
    assert our_pycs.keys() == their_pycs.keys() and our_pycs
    same = sum(our_pycs[path] == their_pycs[path] for path in our_pycs)
    assert same >= 0.99 * len(our_pycs), f"only {same} of {len(our_pycs)} .pyc files hold the same code"


def installed(ref: str, tmp_path: Path) -> dict:
    script = tmp_path / "dists.py"
    script.write_text(DISTS)
    docker("pull", "-q", ref)
    return json.loads(docker("run", "--rm", "--network", "none", "-v", f"{script}:/d.py:ro", ref, "python",
                             "/d.py").stdout)


def layer_titles(registry: str, repository: str, reference: str) -> dict[str, str]:
    """What each dependency layer holds (its history line) -> its digest."""
    manifest = get_json(registry, repository, reference)
    config = json.loads(blob(registry, repository, manifest["config"]["digest"]))
    ours = [h["created_by"].removeprefix("depimage: ") for h in config["history"]
            if h.get("created_by", "").startswith("depimage:")]
    return dict(zip(ours, [layer["digest"] for layer in manifest["layers"]][-len(ours):]))


@pytest.fixture
def rich_app(app) -> Path:
    """The app, plus a compiled package (markupsafe) and one with a console script (pyflakes)."""
    uv("add", "-q", "--no-sync", "markupsafe", "pyflakes", cwd=app)
    (app / "src/shop/__init__.py").write_text("def main() -> None:\n    import markupsafe, six\n"
                                              "    print('shop runs with', markupsafe.escape('<six>'))\n")
    return app


@pytest.fixture
def heavy(heavy_template, tmp_path) -> Path:
    return copy(heavy_template, tmp_path / "heavy")


def test_the_layered_image_installs_what_the_builder_image_does_and_runs(rich_app, sandbox, uv_image, registry_base,
                                                                         tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    image = f"{registry}/e2e/layered-{run_id}"
    done, proc = layered(rich_app, registry_base, image, env={**fresh(tmp_path, "a"), "DOCKER_HOST": "unix:///nonexistent"})
    assert done and done["path"] == "layers", proc.stderr  # no Docker engine was reachable: none was needed
    assert "layered path: every package from a wheel" in proc.stderr and "#1 " not in proc.stderr
    built = builder(rich_app, sandbox, uv_image, image)
    assert built["path"] == "docker" and built["tag"] != done["tag"]  # the hash covers the path
    ours = installed(done["image"], tmp_path)
    same_installs(ours, installed(built["image"], tmp_path))  # names, versions, every RECORD file and its hash
    assert {"markupsafe", "pyflakes", "six", "idna"} <= set(ours) and "shop" not in ours and "iniconfig" not in ours
    assert docker("run", "--rm", "--network", "none", done["image"], "pyflakes", "--version").returncode == 0

    # the Dockerfile path on it: `uv sync` installs the project, and nothing else
    build = docker("buildx", "build", "--progress=plain", "--no-cache", "--network=host", "--load", "-t",
                   f"e2e/layered-app-{run_id}", "--build-arg", f"DEPS_IMAGE={done['image']}", "-f",
                   str(REPO / "examples/Dockerfile"), str(rich_app))
    changes = [line.split("+ ", 1)[1].split()[0] for line in build.stderr.splitlines() if " + " in line and "==" in line]
    assert changes == ["shop==0.1.0"], build.stderr[-3000:]
    assert "shop runs with &lt;six&gt;" in docker("run", "--rm", "--network=none", f"e2e/layered-app-{run_id}",
                                                  "shop").stdout
    # and `depimage app` over it
    app_run = depimage("app", str(rich_app), "--image", f"{registry}/e2e/layered-app-{run_id}", "--tag", "1.0",
                       "--deps-image", done["image"], "--no-dev", "--output", "json")
    app_ref = json.loads(app_run.stdout)["image"]
    assert "shop runs with &lt;six&gt;" in docker("run", "--rm", "--network=none", app_ref).stdout


@pytest.mark.parametrize("which", ["heavy", "deptry"])
def test_real_sets_install_as_the_builder_installs_them(which, heavy_template, sandbox, uv_image, registry_base,
                                                        tmp_path, run_id):
    project = copy(heavy_template, tmp_path / "p") if which == "heavy" else checkout(which, tmp_path).project
    image = f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/real-{which}-{run_id}"
    done, proc = layered(project, registry_base, image)
    assert done and done["path"] == "layers", proc.stderr
    same_installs(installed(done["image"], tmp_path),
                  installed(builder(project, sandbox, uv_image, image)["image"], tmp_path))
    if which == "heavy":
        titles = layer_titles(sandbox["DEPIMAGE_TEST_REGISTRY"], f"e2e/real-{which}-{run_id}", done["tag"])
        for name in ("numpy", "pandas", "scipy", "scikit-learn"):
            assert any(t.startswith(name + " ") for t in titles), titles  # each heavy package in a layer of its own
        code = "import sklearn, scipy.linalg, pandas; print(pandas.DataFrame({'a': [1, 2]}).sum().a)"
        assert docker("run", "--rm", "--network", "none", done["image"], "python", "-c", code).stdout.strip() == "3"


def test_same_inputs_same_digest_from_fresh_caches_other_folders_umasks_and_registries(rich_app, sandbox,
                                                                                       registry_base, tmp_path, run_id):
    other = copy(rich_app, tmp_path / "elsewhere" / "deep" / "shop")
    first, proc = layered(rich_app, registry_base, f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/repro-{run_id}",
                          env=fresh(tmp_path, "one"))
    assert first, proc.stderr
    registry, user, password = (sandbox["DEPIMAGE_TEST_AUTH_REGISTRY"], sandbox["DEPIMAGE_TEST_AUTH_USER"],
                                sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"])
    env = {**os.environ, **fresh(tmp_path, "two"), "DEPIMAGE_REGISTRY_PASSWORD": password,
           "PYTHONPATH": str(REPO / "src")}
    second = subprocess.run(
        ["sh", "-c", 'umask 077 && exec "$0" -m depimage "$@"', sys.executable, "ensure", str(other), "--image",
         f"{registry}/e2e/repro-{run_id}", "--registry-username", user, "--base-image", registry_base, "--uv-version",
         UV_VERSION, "--no-dev", "--output", "json"], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["digest"] == first["digest"]
    assert "copying layer" in second.stderr  # the base image's layers, copied across registries


def test_one_small_package_added_costs_one_layer_pushed_and_pulled(rich_app, sandbox, registry_base, tmp_path, run_id):
    from depimage.image.layering import group_of

    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    repository = f"e2e/small-change-{run_id}"
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        first, proc = layered(rich_app, registry_base, f"{proxy.address}/{repository}", env=fresh(tmp_path, "a"))
        assert first, proc.stderr
    uv("add", "-q", "--no-sync", "iniconfig", cwd=rich_app)
    locked = re.findall(r'^name = "([^"]+)"', (rich_app / "uv.lock").read_text(), re.M)
    group = sorted(n for n in locked if group_of(n) == group_of("iniconfig") and n in
                   {"iniconfig", "six", "idna", "markupsafe", "pyflakes"})
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        second, proc = layered(rich_app, registry_base, f"{proxy.address}/{repository}", env=fresh(tmp_path, "b"))
        assert second and second["hash"] != first["hash"], proc.stderr
        assert f"installing {len(group)} package(s)" in proc.stderr  # a fresh runner: the rest came from the registry
        uploads = [path for method, path, status in proxy.log if method == "PUT" and "/blobs/uploads/" in path]
        assert len(uploads) == 3, proxy.log  # the changed group's layer, the config, and the new SBOM
        manifests = [path.rsplit("/", 1)[1] for method, path, _ in proxy.log if method == "PUT" and "/manifests/" in path]
        sbom_tag = second["digest"].replace(":", "-")  # the referrers tag of the image's manifest
        referrer = next(m for m in manifests if m.startswith("sha256:"))  # the SBOM's, by digest
        assert sorted(manifests) == sorted([second["tag"], "deps-latest", referrer, sbom_tag])
        # a host that has the first image and not the second (by image ID: the same inputs made them before)
        configs = [get_json(registry, repository, done["tag"])["config"]["digest"] for done in (first, second)]
        for image_id in configs:
            docker("rmi", "-f", image_id, check=False)
        docker("pull", "-q", f"{registry}/{repository}:{first['tag']}")
        proxy.log.clear()
        docker("pull", "-q", second["image"])
        pulled = {path.split("/blobs/")[1] for method, path, _ in proxy.log if method == "GET" and "/blobs/" in path}
    layers = [{layer["digest"] for layer in get_json(registry, repository, done["tag"])["layers"]} for done in (first, second)]
    # one layer differs: the group's, replaced (or added, where the group had no package before)
    assert len(layers[1] - layers[0]) == 1 and len(layers[0] - layers[1]) <= 1
    # and pulling fetches nothing else (the engine may hold that layer's content already, from another image)
    assert pulled - {configs[1]} <= layers[1] - layers[0], pulled


def test_two_projects_that_lock_the_same_numpy_share_its_layer(heavy, tmp_path, sandbox, registry_base, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    version = re.search(r'name = "numpy"\nversion = "([^"]+)"', (heavy / "uv.lock").read_text())[1]
    other = make_app(tmp_path / "other")
    uv("add", "-q", "--no-sync", f"numpy=={version}", cwd=other)
    for project, repository in ((heavy, f"e2e/share-a-{run_id}"), (other, f"e2e/share-b-{run_id}")):
        done, proc = layered(project, registry_base, f"{registry}/{repository}")
        assert done, proc.stderr
    a = layer_titles(registry, f"e2e/share-a-{run_id}", "deps-latest")[f"numpy {version}"]
    b = layer_titles(registry, f"e2e/share-b-{run_id}", "deps-latest")[f"numpy {version}"]
    assert a == b  # one blob, stored once


def test_a_private_index_behind_a_password_leaves_no_trace_of_it(app, sandbox, registry_base, tmp_path, run_id):
    password = "layered-index-secret-77"
    index = serve(build_wheel(tmp_path / "wheel"), user="bob", password=password)
    try:
        use_private_index(app, index)
        registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
        repository = f"e2e/private-{run_id}"
        done, proc = layered(app, registry_base, f"{registry}/{repository}", "--secret", "UV_INDEX_PRIVATE_USERNAME",
                             "--secret", "UV_INDEX_PRIVATE_PASSWORD",
                             env={**fresh(tmp_path, "p"), "UV_INDEX_PRIVATE_USERNAME": "bob",
                                  "UV_INDEX_PRIVATE_PASSWORD": password})
        assert done and done["path"] == "layers", proc.stderr
        assert any(p.startswith(f"/files/{PACKAGE}") for p in index.requests)
    finally:
        index.stop()
    assert password not in proc.stdout + proc.stderr
    manifest = get_json(registry, repository, done["tag"])
    blobs = [json.dumps(manifest).encode(), blob(registry, repository, manifest["config"]["digest"])]
    blobs += [gzip.decompress(blob(registry, repository, layer["digest"])) for layer in manifest["layers"]]
    assert not [b for b in blobs if password.encode() in b], "the password is in the image"
    code = f"import {PACKAGE}; print({PACKAGE}.ORIGIN)"
    assert docker("run", "--rm", "--network", "none", done["image"], "python", "-c", code).stdout.strip() == \
        "private index"


def test_two_platforms_from_one_amd64_host_without_an_emulator(rich_app, sandbox, registry_base, tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    base = multiplatform_base(registry, f"e2e/multibase-{run_id}")
    repository = f"e2e/multi-{run_id}"
    done, proc = layered(rich_app, base, f"{registry}/{repository}",
                         "--platform", "linux/amd64,linux/arm64")
    assert done and done["path"] == "layers", proc.stderr
    top = get_json(registry, repository, done["tag"])
    platforms = {m["platform"]["architecture"]: m["digest"] for m in top["manifests"]}
    assert set(platforms) == {"amd64", "arm64"}
    machines = {}
    for arch, digest in platforms.items():
        for layer in get_json(registry, repository, digest)["layers"]:
            with tarfile.open(fileobj=io.BytesIO(blob(registry, repository, layer["digest"]))) as tar:
                for member in tar:
                    if re.search(r"markupsafe/_speedups.*\.so$", member.name):
                        elf = tar.extractfile(member).read(20)
                        machines[arch] = int.from_bytes(elf[18:20], "little")
    assert machines == {"amd64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64
    out = docker("run", "--rm", "--network", "none", "--platform", "linux/amd64", done["image"], "python", "-c",
                 "import markupsafe._speedups, platform; print(platform.machine())").stdout.strip()
    assert out == "x86_64"


def test_an_sdist_only_package_takes_the_builder_path_and_says_so(app, sandbox, uv_image, tmp_path, run_id):
    src = build_wheel(tmp_path / "wheel").parent.parent / f"{PACKAGE}-src"
    uv("build", "-q", "--sdist", "--out-dir", str(tmp_path / "sdist"), cwd=src)
    index = serve(next((tmp_path / "sdist").glob("*.tar.gz")))
    try:
        use_private_index(app, index)
        proc = depimage("ensure", str(app), "--image", f"{sandbox['DEPIMAGE_TEST_REGISTRY']}/e2e/sdist-{run_id}",
                        "--base-image", sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "--uv-version", UV_VERSION, "--uv-image",
                        uv_image, "--network", "host", "--no-dev", "--output", "json")
    finally:
        index.stop()
    assert json.loads(proc.stdout)["path"] == "docker"
    assert f"builder path: no wheel for {PACKAGE} in uv.lock" in proc.stderr


def test_refusals_are_clear_and_tag_nothing(rich_app, sandbox, registry_base, tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    with FaultProxy(registry, "PUT", r"/blobs/uploads/", failures=100, status=400,
                    errors=(("BLOB_UPLOAD_INVALID", "refused by the test"),)) as proxy:
        done, proc = layered(rich_app, registry_base, f"{proxy.address}/e2e/refused-{run_id}", check=False)
    assert proc.returncode == 1 and "HTTP 400 (BLOB_UPLOAD_INVALID: refused by the test)" in proc.stderr
    assert registry_tags(registry, f"e2e/refused-{run_id}") == []

    auth = sandbox["DEPIMAGE_TEST_AUTH_REGISTRY"]
    done, proc = layered(rich_app, f"{auth}/base/python:3.11", f"{registry}/e2e/no-pull-{run_id}", check=False)
    assert proc.returncode == 1 and f"{auth} refused anonymous access for base/python" in proc.stderr, proc.stderr
    assert registry_tags(registry, f"e2e/no-pull-{run_id}") == []

    synthetic_image(registry, f"e2e/nopython-{run_id}", "1", {"etc/hostname": b"x\n"}, "amd64")
    done, proc = layered(rich_app, f"{registry}/e2e/nopython-{run_id}:1", f"{registry}/e2e/no-python-{run_id}",
                         check=False)
    assert proc.returncode == 2 and "has no Python" in proc.stderr, proc.stderr
    assert registry_tags(registry, f"e2e/no-python-{run_id}") == []
