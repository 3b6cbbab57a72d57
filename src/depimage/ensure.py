"""`ensure`: the dependency image for this hash exists afterwards. One registry check; a build and push
only when it is missing."""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .builder import BuildError, BuildRequest, build, local_image_id
from .errors import DepimageError
from .hashing import TAG_PREFIX
from .prepare import Prepared
from .registry import Credentials, ImageName, Registry

PUSH_ATTEMPTS = 3  # registries answer 5xx when two runs push the same blobs at once; the next push gets by
RETRY_PAUSE = 2.0  # seconds, times the attempt number, give or take half


@dataclass(frozen=True)
class EnsureResult:
    """What the caller needs next: the reference to build FROM, and what happened."""

    image: str
    tag: str
    digest: str
    hash: str
    cache_hit: bool
    built: bool
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def ensure(prepared: Prepared, image: ImageName, *, tag_prefix: str = TAG_PREFIX, push: bool = True,
           credentials: Credentials | None = None, insecure: bool = False, secrets: tuple[str, ...] = (),
           network: str | None = None, labels: dict[str, str] | None = None,
           on_line: Callable[[str], None] = lambda line: None,
           on_status: Callable[[str], None] = lambda msg: None) -> EnsureResult:
    """Check, and build only on a miss. With push=False the local engine stands in for the registry."""
    started = time.monotonic()
    tag = prepared.hash.tag(tag_prefix)
    ref = image.ref(tag)
    registry = Registry(image, credentials, insecure=insecure) if push else None

    found = registry.manifest_digest(tag) if registry else local_image_id(ref)
    if found:
        on_status(f"{ref} exists: cache hit, nothing to build")
        return EnsureResult(ref, tag, found, prepared.hash.hex, True, False, time.monotonic() - started)

    on_status(f"{ref} is missing: building{' and pushing' if push else ''}")
    if labels is None:  # git is asked only when there is something to label
        labels = source_labels(prepared.project.root, dict(os.environ))
    request = BuildRequest(prepared, image, tag, push, secrets, network, credentials, labels)
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            build(request, on_line)
            break
        except BuildError as exc:
            if registry is None:
                raise
            # Another run for the same hash may have pushed while we built, and made our push collide.
            try:
                found = registry.manifest_digest(tag)
            except DepimageError:
                raise exc from None  # the builder's failure is the one to report
            if found:
                on_status(f"{ref} was pushed meanwhile by another run for the same hash: using it")
                return EnsureResult(ref, tag, found, prepared.hash.hex, True, False, time.monotonic() - started)
            if not exc.transient_push or attempt == PUSH_ATTEMPTS:
                raise
            on_status(f"the push failed with an error worth retrying; pushing again ({attempt + 1} of "
                      f"{PUSH_ATTEMPTS}); the build itself is cached")
            time.sleep(RETRY_PAUSE * attempt * random.uniform(0.5, 1.5))  # two racers must not meet again
    digest = registry.manifest_digest(tag) if registry else local_image_id(ref)
    if not digest:
        raise DepimageError(f"the build reported success but {ref} is not there")
    return EnsureResult(ref, tag, digest, prepared.hash.hex, False, True, time.monotonic() - started)


def source_labels(project_root: Path, env: dict[str, str]) -> dict[str, str]:
    """OCI source and revision: from GitHub's variables, else from git; credentials in URLs removed."""
    source = ""
    revision = env.get("GITHUB_SHA", "")
    if env.get("GITHUB_REPOSITORY"):
        source = f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}"
    if not source or not revision:
        def git(*args: str) -> str:
            try:
                proc = subprocess.run(["git", "-C", str(project_root), *args], capture_output=True, text=True,
                                      timeout=10)
            except (OSError, subprocess.SubprocessError):
                return ""
            return proc.stdout.strip() if proc.returncode == 0 else ""
        source = source or git("config", "--get", "remote.origin.url")
        revision = revision or git("rev-parse", "HEAD")
    source = re.sub(r"^(\w+://)[^/@]*@", r"\1", source)  # https://user:token@host/... -> https://host/...
    return {"DEPIMAGE_SOURCE": source, "DEPIMAGE_REVISION": revision}
