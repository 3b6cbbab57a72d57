"""The layer store end to end, on the real Distribution registry (open, and behind the token service as ghcr.io and
Docker Hub run it): a project ensured cold into a new repository mounts the package layers another project made
in another repository, downloads from the package index only what the first lacked, uploads no blob the registry
holds, and gets the very image it would get without the store; a registry that declines mounts gets copies; two
runs at once both finish whole; a store that is off, unreadable or has lost a blob is a miss with a line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests

from e2e import fresh, get_json, layered, token_get
from faultproxy import FaultProxy
from helpers import REPO, depimage, uv
from pyindex import large_wheel, serve, use_private_index

pytestmark = pytest.mark.e2e

MIB = 1 << 20
HEAVY = ("storea", "storeb", "storec")  # incompressible 2 MiB wheels: each a layer of its own


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    where = tmp_path_factory.mktemp("store-wheels")
    served = serve([large_wheel(where, name, 2 * MIB, incompressible=True) for name in HEAVY])
    yield served
    served.stop()


def project(where, name: str, heavy: list[str], index):
    """An app NAME with six from the package index and the heavy packages from the test index."""
    where.mkdir(parents=True)
    uv("init", "-q", "--app", "--name", name, ".", cwd=where)
    uv("add", "-q", "--no-sync", "six", cwd=where)
    use_private_index(where, index, heavy)
    return where


def downloads(index, since: int) -> list[str]:
    return sorted(path.rsplit("/", 1)[1].split("-")[0] for path in index.requests[since:] if path.startswith("/files/"))


def uploaded_blobs(proxy: FaultProxy, since: int) -> list[str]:
    """The digests of the blobs pushed through the proxy (a monolithic PUT ?digest=, or a mount that landed)."""
    return [re.search(r"digest=(sha256(?::|%3A)[0-9a-f]{64})", path)[1].replace("%3A", ":")
            for method, path, status in proxy.log[since:] if method == "PUT" and "digest=" in path and status == 201]


@pytest.fixture
def token(sandbox):
    return ("--registry-username", sandbox["DEPIMAGE_TEST_AUTH_USER"], "--registry-password-stdin"), \
        sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"] + "\n"


@pytest.mark.parametrize("kind", ["open", "token"])
def test_a_new_repository_mounts_what_another_made_and_gets_the_same_image(kind, index, sandbox, registry_base, token,
                                                                          tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY" if kind == "open" else "DEPIMAGE_TEST_TOKEN_REGISTRY"]
    login, password = token if kind == "token" else ((), None)
    owner = f"store-{run_id}"  # the default store: {registry}/{owner}/depimage-layers
    base = registry_base.split("/", 1)[1]  # the base on the same registry, so its layers are mounted, not copied
    if kind == "token":
        base = f"{owner}/python:3.11"
        user = sandbox["DEPIMAGE_TEST_AUTH_USER"]
        subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds",
                        f"{user}:{password.strip()}", f"docker://{registry_base}", f"docker://{registry}/{base}"],
                       check=True, capture_output=True, timeout=300)
    a = project(tmp_path / "a", "service-a", ["storea", "storeb"], index)
    b = project(tmp_path / "b", "service-b", ["storea", "storeb", "storec"], index)
    first, proc = layered(a, f"{registry}/{base}", f"{registry}/{owner}/a", "--layer-store", "auto", *login,
                          env=fresh(tmp_path, "a"), input=password)
    assert first and "recorded" in proc.stderr and "layer store" in proc.stderr, proc.stderr

    asked = len(index.requests)
    with FaultProxy(registry, "NONE", r"^$", failures=0) as proxy:
        second, proc = layered(b, f"{proxy.address}/{base}", f"{proxy.address}/{owner}/b", "--layer-store", "auto",
                               *login, env=fresh(tmp_path, "b"), input=password)
        assert second and second["path"] == "layers", proc.stderr
        sent, fetched = uploaded_blobs(proxy, 0), downloads(index, asked)
        # the same project without the store, into a third repository (the base named as for B: its name is in
        # the image's annotations)
        alone, alone_proc = layered(b, f"{proxy.address}/{base}", f"{proxy.address}/{owner}/c", "--layer-store",
                                    "off", *login, env=fresh(tmp_path, "c"), input=password)
    assert fetched == ["storec"]  # only what A lacks, from an empty uv cache
    assert {"storea 1.0.0", "storeb 1.0.0", "uv 0.13.9", "the virtual environment"} <= set(second["from_store"])
    held = {layer["digest"] for layer in get_json_any(registry, f"{owner}/a", first["tag"], kind, sandbox)["layers"]}
    assert not held & set(sent), f"blobs the registry held were uploaded again: {held & set(sent)}"
    new_layers = [layer["digest"] for layer in get_json_any(registry, f"{owner}/b", second["tag"], kind,
                                                            sandbox)["layers"] if layer["digest"] not in held]
    assert len(new_layers) == 1 and set(new_layers) <= set(sent), (new_layers, sent)  # storec's layer, once
    assert alone and "layer store: off" in alone_proc.stderr, alone_proc.stderr
    assert alone["digest"] == second["digest"]  # the same image, file for file, with the store or without

    listed = depimage("store", "--image", f"{registry}/{owner}/x", *login, "--output", "json", input=password)
    held_now = json.loads(listed.stdout)
    assert held_now["store"] == f"{registry}/{owner}/depimage-layers"
    packages = {p for layer in held_now["layers"] for p in layer["packages"]}
    assert {"storea==1.0.0", "storeb==1.0.0", "storec==1.0.0"} <= packages and any(p.startswith("six==") for p in packages)
    assert all(layer["python"] == "3.11" and layer["size"] > 0 for layer in held_now["layers"])


def get_json_any(registry: str, repository: str, tag: str, kind: str, sandbox) -> dict:
    """A manifest from the open registry, or through a token on the token registry."""
    if kind == "open":
        return get_json(registry, repository, tag)
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    return token_get(sandbox, f"/v2/{repository}/manifests/{tag}", f"repository:{repository}:pull", accept).json()


def test_a_registry_that_declines_mounts_gets_copies_and_the_same_digest(index, sandbox, registry_base, tmp_path,
                                                                         run_id):
    registry, owner = sandbox["DEPIMAGE_TEST_REGISTRY"], f"nomount-{run_id}"
    a = project(tmp_path / "a", "service-a", ["storea", "storeb"], index)
    first, proc = layered(a, registry_base, f"{registry}/{owner}/a", "--layer-store", "auto", env=fresh(tmp_path, "a"))
    assert first, proc.stderr
    with FaultProxy(registry, "NONE", r"^$", failures=0, no_mounts=True) as proxy:
        copied, proc = layered(a, registry_base, f"{proxy.address}/{owner}/b", "--layer-store", "auto",
                               env=fresh(tmp_path, "b"))
    assert copied and "the registry did not mount it" in proc.stderr, proc.stderr
    assert "installing 0 package(s)" in proc.stderr  # every layer from the store, copied
    assert copied["digest"] == first["digest"]


def test_two_runs_at_once_sharing_layers_both_finish_whole(index, sandbox, registry_base, tmp_path, run_id):
    registry, owner = sandbox["DEPIMAGE_TEST_REGISTRY"], f"race-{run_id}"
    projects = [project(tmp_path / n, f"service-{n}", heavy, index)
                for n, heavy in (("p", ["storea", "storeb"]), ("q", ["storea", "storeb", "storec"]))]
    procs = []
    for p in projects:
        env = {**fresh(tmp_path, p.name), "PYTHONPATH": str(REPO / "src")}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "depimage", "ensure", str(p), "--image", f"{registry}/{owner}/{p.name}",
             "--base-image", registry_base, "--uv-version", "0.13.9", "--no-dev", "--output", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}))
    for p, proc in zip(projects, procs):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        done = json.loads(out)
        manifest = get_json(registry, f"{owner}/{p.name}", done["tag"])
        for digest in [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]:
            head = requests.head(f"http://{registry}/v2/{owner}/{p.name}/blobs/{digest}", timeout=10)
            assert head.status_code == 200, f"{p.name}: blob {digest} missing"


def test_off_unreadable_or_a_lost_blob_is_a_miss_with_a_line(index, sandbox, registry_base, token, tmp_path, run_id):
    registry, owner = sandbox["DEPIMAGE_TEST_REGISTRY"], f"miss-{run_id}"
    a = project(tmp_path / "a", "service-a", ["storea"], index)
    first, proc = layered(a, registry_base, f"{registry}/{owner}/a", "--layer-store", "auto", env=fresh(tmp_path, "a"))
    assert first, proc.stderr

    # a lost blob: the store's entry for storea names a blob the registry no longer has there
    entry = get_json(registry, f"{owner}/depimage-layers", "layer-" + next(
        layer["annotations"]["dev.depimage.layer"] for layer in get_json(registry, f"{owner}/a", first["tag"])["layers"]
        if layer.get("annotations", {}).get("dev.depimage.layer") and layer["size"] > MIB))
    gone = entry["layers"][0]["digest"]
    assert requests.delete(f"http://{registry}/v2/{owner}/depimage-layers/blobs/{gone}", timeout=10).status_code == 202
    lost, proc = layered(a, registry_base, f"{registry}/{owner}/b", "--layer-store", "auto", env=fresh(tmp_path, "b"))
    assert lost and "names a blob that is gone" in proc.stderr, proc.stderr
    assert lost["digest"] == first["digest"]  # made again, the same

    # unreadable: on the token registry, a store this account is granted nothing on (a ghcr.io package that has
    # not given the repository access)
    login, password = token
    token_registry = sandbox["DEPIMAGE_TEST_TOKEN_REGISTRY"]
    denied, proc = layered(a, registry_base, f"{token_registry}/{owner}/c", "--layer-store",
                           f"{token_registry}/{owner}/denied-store", *login, env=fresh(tmp_path, "c"), input=password)
    assert denied and "cannot be read" in proc.stderr, proc.stderr
    assert denied["digest"] == first["digest"] and denied["from_store"] == []
    assert sum("layer store" in line for line in proc.stderr.splitlines()) == 1, proc.stderr  # said once
