"""SBOMs and base annotations end to end, on the real Distribution registry (which has no referrers API: the
referrers tag schema is used) and the real engine: each platform manifest of a layered dependency image has one
CycloneDX SBOM referrer that validates and lists exactly the distributions the running image has; the index gains
no entry; the same inputs give the same SBOM; skopeo sees the base annotations; the application image's SBOM adds
the project. The builder path's images get the same: the base annotations (the docker driver's Docker manifest
made OCI) and an SBOM of what the image's own Python lists."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from e2e import blob, docker, ensure, fresh, get_json, layered, multiplatform_base, registry_get
from helpers import copy, depimage, uv

pytestmark = pytest.mark.e2e

SBOM_TYPE = "application/vnd.cyclonedx+json"
BASE_NAME, BASE_DIGEST = "org.opencontainers.image.base.name", "org.opencontainers.image.base.digest"
DISTS = "import importlib.metadata as m, json; print(json.dumps(sorted([d.metadata['Name'].lower().replace('_', '-'), d.version] for d in m.distributions())))"


def sbom_of(registry: str, repository: str, manifest_digest: str) -> tuple[str, dict]:
    """(the SBOM blob's digest, the SBOM) found from a manifest's digest through the referrers tag schema."""
    listed = get_json(registry, repository, manifest_digest.replace(":", "-"))["manifests"]
    sboms = [d for d in listed if d.get("artifactType") == SBOM_TYPE]
    assert len(sboms) == 1, listed
    referrer = get_json(registry, repository, sboms[0]["digest"])
    assert referrer["subject"]["digest"] == manifest_digest
    layer = referrer["layers"][0]
    document = blob(registry, repository, layer["digest"])
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document.decode()) is None
    return layer["digest"], json.loads(document)


def listed(document: dict) -> list[list[str]]:
    return sorted([c["name"], c["version"]] for c in document["components"])


def skopeo(*args: str) -> dict:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_each_platform_manifest_has_one_valid_exact_reproducible_sbom(app, sandbox, registry_base, tmp_path,
                                                                      run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "markupsafe", "pyflakes", cwd=app)
    base = multiplatform_base(registry, f"e2e/sbom-base-{run_id}")
    repository = f"e2e/sbom-{run_id}"
    done, proc = layered(app, base, f"{registry}/{repository}", "--platform", "linux/amd64,linux/arm64",
                         env=fresh(tmp_path, "a"))
    assert done and "attached an SBOM" in proc.stderr, proc.stderr
    index = get_json(registry, repository, done["tag"])
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]  # nothing more
    found = {m["platform"]["architecture"]: sbom_of(registry, repository, m["digest"]) for m in index["manifests"]}

    amd64 = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == "amd64")
    docker("pull", "-q", f"{registry}/{repository}@{amd64}")
    running = json.loads(docker("run", "--rm", "--network", "none", f"{registry}/{repository}@{amd64}", "python",
                                "-c", DISTS).stdout)
    assert listed(found["amd64"][1]) == running  # exactly the distributions the image has, no more, no less
    assert {"markupsafe", "pyflakes", "six", "idna"} <= {name for name, _ in running}
    assert listed(found["arm64"][1]) == running  # the same set (no package here is platform-specific)
    purls = {c["purl"] for c in found["amd64"][1]["components"]}
    assert all(p.startswith("pkg:pypi/") for p in purls)
    assert all(c.get("hashes") for c in found["amd64"][1]["components"])

    # the same inputs from fresh caches, another folder and repository: the same SBOM
    again, proc = layered(copy(app, tmp_path / "elsewhere" / "app"), base, f"{registry}/{repository}-again",
                          "--platform", "linux/amd64,linux/arm64", env=fresh(tmp_path, "b"))
    assert again and again["digest"] == done["digest"], proc.stderr
    again_index = get_json(registry, f"{repository}-again", again["tag"])
    assert {m["platform"]["architecture"]: sbom_of(registry, f"{repository}-again", m["digest"])[0]
            for m in again_index["manifests"]} == {arch: digest for arch, (digest, _) in found.items()}

    # skopeo sees the base annotations on the manifests and the same as labels
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry}/{repository}@{amd64}")
    assert raw["annotations"][BASE_NAME] == f"{registry}/e2e/sbom-base-{run_id}:multi"
    assert raw["annotations"][BASE_DIGEST] == base_digest(registry, f"e2e/sbom-base-{run_id}")
    inspected = skopeo("inspect", "--tls-verify=false", f"docker://{registry}/{repository}@{amd64}")
    assert inspected["Labels"][BASE_NAME] == raw["annotations"][BASE_NAME]
    assert index["annotations"][BASE_DIGEST] == raw["annotations"][BASE_DIGEST]


def base_digest(registry: str, repository: str) -> str:
    return "sha256:" + hashlib.sha256(registry_get(registry, repository, "manifests", "multi").content).hexdigest()


def test_the_application_images_sbom_adds_the_project_and_keeps_the_base_annotations(app, sandbox, registry_base,
                                                                                    tmp_path, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    repository = f"e2e/sbom-app-{run_id}"
    deps, proc = layered(app, registry_base, f"{registry}/{repository}", env=fresh(tmp_path, "a"))
    assert deps, proc.stderr
    made = depimage("app", str(app), "--image", f"{registry}/{repository}", "--tag", "1.0", "--deps-image",
                    deps["image"], "--no-dev", "--output", "json")
    result = json.loads(made.stdout)
    manifest = get_json(registry, repository, "1.0")
    _, app_sbom = sbom_of(registry, repository, result["digest"])
    _, deps_sbom = sbom_of(registry, repository, deps["digest"])
    assert listed(app_sbom) == sorted(listed(deps_sbom) + [["shop", "0.1.0"]])
    assert next(c for c in app_sbom["components"] if c["name"] == "shop")["type"] == "application"
    deps_manifest = get_json(registry, repository, deps["tag"])
    for key in (BASE_NAME, BASE_DIGEST):
        assert manifest["annotations"][key] == deps_manifest["annotations"][key]
    assert manifest["annotations"][BASE_NAME].endswith("/base/python:3.11-bookworm")


def test_the_builder_paths_image_gets_the_base_annotations_and_an_exact_reproducible_sbom(app, sandbox, uv_image,
                                                                                         registry_base, run_id):
    registry = sandbox["DEPIMAGE_TEST_REGISTRY"]
    uv("add", "-q", "--no-sync", "markupsafe", "pyflakes", cwd=app)
    repository = f"e2e/sbom-builder-{run_id}"
    done, proc = ensure(app, sandbox, uv_image, f"{registry}/{repository}", "--base-image", registry_base)
    assert done and done["path"] == "docker" and "attached an SBOM" in proc.stderr, proc.stderr

    # the docker driver pushed Docker media types, without annotations: the tag now names the OCI form with them
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{done['image']}")
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert raw["annotations"][BASE_NAME] == registry_base
    assert raw["annotations"][BASE_DIGEST] == "sha256:" + hashlib.sha256(
        registry_get(registry, "base/python", "manifests", "3.11-bookworm").content).hexdigest()
    inspected = skopeo("inspect", "--tls-verify=false", f"docker://{done['image']}")
    assert inspected["Digest"] == done["digest"]
    assert {k: inspected["Labels"][k] for k in (BASE_NAME, BASE_DIGEST)} == \
        {k: raw["annotations"][k] for k in (BASE_NAME, BASE_DIGEST)}

    sbom_digest, document = sbom_of(registry, repository, done["digest"])
    docker("pull", "-q", f"{registry}/{repository}@{done['digest']}")
    running = json.loads(docker("run", "--rm", "--network", "none", f"{registry}/{repository}@{done['digest']}",
                                "python", "-c", DISTS).stdout)
    assert listed(document) == running  # what the image's own Python finds, no more, no less
    assert {"markupsafe", "pyflakes", "six", "idna"} <= {name for name, _ in running}
    assert all(c.get("hashes") and c["purl"].startswith("pkg:pypi/") for c in document["components"])

    # the same inputs into another repository (the builder's cache serves): the same SBOM
    again, proc = ensure(app, sandbox, uv_image, f"{registry}/{repository}-again", "--base-image", registry_base)
    assert again, proc.stderr
    assert sbom_of(registry, f"{repository}-again", again["digest"])[0] == sbom_digest
