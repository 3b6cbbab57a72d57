"""Helpers for the end-to-end tests: depimage ensure against the real engine and registries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests

from helpers import depimage

UV_VERSION = "0.13.9"
ACTION_IMAGE = "local/depimage-action:test"


def ensure(project, sandbox, uv_image, image, *extra, env=None, check=True, input=None):
    """`depimage ensure --output json --builder docker` as a user runs it, on the sandbox's base image (in the local
    engine only) and uv image: the builder path. The layered path has its own helper (test_layered_e2e.py)."""
    proc = depimage("ensure", str(project), "--image", image, "--base-image", sandbox["DEPIMAGE_TEST_BASE_IMAGE"],
                    "--uv-version", UV_VERSION, "--uv-image", uv_image, "--network", "host", "--output", "json",
                    "--builder", "docker", *extra, env=env, check=check, input=input)
    return (json.loads(proc.stdout) if proc.returncode == 0 else None), proc


ACCEPT = ("application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json")
APP_MAIN = "def main() -> None:\n    import six\n    print('shop runs with', six.__name__)\n"


def registry_get(registry: str, repository: str, kind: str, reference: str, auth=None,
                 accept: str = ACCEPT) -> requests.Response:
    """The one way the tests read a registry: GET /v2/REPOSITORY/{manifests|blobs|tags}/REFERENCE over plain http."""
    return requests.get(f"http://{registry}/v2/{repository}/{kind}/{reference}", headers={"Accept": accept},
                        auth=auth, timeout=60)


def get_json(registry: str, repository: str, reference: str, auth=None) -> dict:
    """A manifest or index, parsed."""
    r = registry_get(registry, repository, "manifests", reference, auth)
    r.raise_for_status()
    return r.json()


def blob(registry: str, repository: str, digest: str, auth=None) -> bytes:
    r = registry_get(registry, repository, "blobs", digest, auth)
    r.raise_for_status()
    return r.content


def token_get(sandbox: dict, path: str, scope: str, accept: str = "") -> requests.Response:
    """A GET on the token registry the way a client does it: the challenge, a token for the scope, the GET."""
    url = f"http://{sandbox['DEPIMAGE_TEST_TOKEN_REGISTRY']}{path}"
    challenge = requests.get(url, timeout=10).headers["WWW-Authenticate"]
    realm = challenge.split('realm="')[1].split('"')[0]
    service = challenge.split('service="')[1].split('"')[0]
    auth = (sandbox["DEPIMAGE_TEST_AUTH_USER"], sandbox["DEPIMAGE_TEST_AUTH_PASSWORD"])
    token = requests.get(realm, params={"service": service, "scope": scope}, auth=auth, timeout=10).json()["token"]
    return requests.get(url, headers={"Authorization": f"Bearer {token}", "Accept": accept}, timeout=10)


def registry_tags(registry: str, repository: str, auth=None) -> list[str]:
    r = registry_get(registry, repository, "tags", "list", auth)
    if r.status_code == 404:
        return []
    r.raise_for_status()
    return r.json().get("tags") or []


def app_cmd(project, sandbox, uv_image, image, tag, *extra, check=True, env=None, input=None):
    """`depimage app --output json` on the builder path, the sandbox's base and uv images."""
    proc = depimage("app", str(project), "--image", image, "--tag", tag, "--base-image",
                    sandbox["DEPIMAGE_TEST_BASE_IMAGE"], "--uv-version", UV_VERSION, "--uv-image", uv_image,
                    "--network", "host", "--no-dev", "--output", "json", "--builder", "docker", *extra, check=check,
                    env=env, input=input)
    return (json.loads(proc.stdout) if proc.returncode == 0 else None), proc


def blob_reads(proxy) -> list[str]:
    """The blobs a recording proxy (faultproxy.FaultProxy) saw downloaded."""
    return [path.split("/blobs/")[1].split("?")[0] for method, path, _ in proxy.log
            if method == "GET" and "/blobs/sha256:" in path]


def docker(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def synthetic_image(registry: str, repository: str, tag: str, files: dict[str, bytes], arch: str) -> str:
    """A one-layer image pushed with depimage's own registry client: the stand-in for a base image of another
    architecture (which no engine here could run, and none needs to), or one without Python."""
    from depimage.image.layer import build_layer
    from depimage.oci.client import Registry
    from depimage.oci.digest import sha256_digest
    from depimage.oci.reference import parse_image_name

    client = Registry(parse_image_name(f"{registry}/{repository}"))
    layer = build_layer({path: (content, False) for path, content in files.items()})
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"Env": ["PATH=/usr/bin:/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}, "history": [{}]}).encode()
    for data, digest in ((layer.blob, layer.digest), (config, sha256_digest(config))):
        client.push_blob(data, digest)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256_digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": layer.digest, "size": layer.size}]}).encode()
    return client.put_manifest(tag, manifest, "application/vnd.oci.image.manifest.v1+json")


DEBIAN_LIBC = b"Package: libc6\nStatus: install ok installed\nArchitecture: arm64\nVersion: 2.36-9+deb12u7\n\n"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def multiplatform_base(registry: str, repository: str, amd64_from: str = "base/python:3.11-bookworm") -> str:
    """REGISTRY/REPOSITORY:multi, an index over the real amd64 base (its blobs mounted from amd64_from) and a
    one-layer arm64 stand-in with what the layered path reads of a base (a python3.11 and glibc 2.36): no arm64
    Debian can be made or run here, and the arm64 image is inspected, not run."""
    import hashlib

    source, _, tag = amd64_from.partition(":")
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                        "application/vnd.oci.image.manifest.v1+json"}
    amd64_bytes = registry_get(registry, source, "manifests", tag, accept=accept["Accept"]).content
    amd64 = json.loads(amd64_bytes)
    for item in amd64["layers"] + [amd64["config"]]:
        requests.post(f"http://{registry}/v2/{repository}/blobs/uploads/?mount={item['digest']}&from={source}",
                      timeout=30).raise_for_status()
    requests.put(f"http://{registry}/v2/{repository}/manifests/amd64", data=amd64_bytes,
                 headers={"Content-Type": amd64["mediaType"]}, timeout=10).raise_for_status()
    arm64 = synthetic_image(registry, repository, "arm64", {"usr/bin/python3.11": b"\x7fELF stand-in",
                                                            "var/lib/dpkg/status": DEBIAN_LIBC}, "arm64")
    arm64_size = len(registry_get(registry, repository, "manifests", arm64, accept={"Accept": "application/vnd.oci.image.manifest.v1+json"}["Accept"]).content)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": amd64["mediaType"], "digest": "sha256:" + hashlib.sha256(amd64_bytes).hexdigest(),
         "size": len(amd64_bytes), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm64, "size": arm64_size,
         "platform": {"os": "linux", "architecture": "arm64"}}]}
    requests.put(f"http://{registry}/v2/{repository}/manifests/multi", data=json.dumps(index),
                 headers={"Content-Type": OCI_INDEX}, timeout=10).raise_for_status()
    return f"{registry}/{repository}:multi"


def fresh(tmp_path: Path, name: str) -> dict[str, str]:
    """A fresh runner's caches: an empty uv cache and an empty depimage cache."""
    return {"UV_CACHE_DIR": str(tmp_path / name / "uv-cache"), "XDG_CACHE_HOME": str(tmp_path / name / "xdg")}


def layered(project: Path, base: str, image: str, *extra: str, env: dict | None = None, check: bool = True,
            input: str | None = None):
    """`depimage ensure` on the default (auto) path, with a base image in a registry. Without the layer store
    unless extra names one (--layer-store): each test sees only its own repository's layers, as the tests of the
    store itself (test_store_e2e.py) see only their own store."""
    store = () if "--layer-store" in extra else ("--layer-store", "off")
    proc = depimage("ensure", str(project), "--image", image, "--base-image", base, "--uv-version", UV_VERSION,
                    "--no-dev", "--output", "json", *store, *extra, env=env, check=check, input=input)
    return (json.loads(proc.stdout) if proc.returncode == 0 else None), proc
