"""Helpers for the end-to-end tests: depimage ensure against the real engine and registries."""

from __future__ import annotations

import json
import subprocess

import requests

from helpers import depimage

UV_VERSION = "0.13.9"
ACTION_IMAGE = "local/depimage-action:test"


def ensure(project, sandbox, uv_image, image, *extra, env=None, check=True, input=None):
    """`depimage ensure --output json` as a user runs it, on the sandbox's base image and uv image."""
    proc = depimage("ensure", str(project), "--image", image, "--base-image", sandbox["DEPIMAGE_TEST_BASE_IMAGE"],
                    "--uv-version", UV_VERSION, "--uv-image", uv_image, "--network", "host", "--output", "json",
                    *extra, env=env, check=check, input=input)
    return (json.loads(proc.stdout) if proc.returncode == 0 else None), proc


def registry_tags(registry: str, repository: str, auth=None) -> list[str]:
    r = requests.get(f"http://{registry}/v2/{repository}/tags/list", auth=auth, timeout=10)
    if r.status_code == 404:
        return []
    r.raise_for_status()
    return r.json().get("tags") or []


def docker(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc
