"""plan: every deployable target of a repository, with its hash and whether the registry has its image,
as a GitHub Actions matrix of what is missing.

Targets are configured in the workspace root's pyproject.toml:

    [tool.depimage]
    image = "ghcr.io/acme/{name}-deps"   # {name} is the target's name
    no-dev = true                        # defaults for every target: no-dev, extras, groups, base-image

    [tool.depimage.targets.api]          # one table a target; without any, every member with
    package = "api"                      # [project.scripts] is a target (a lone project: itself)
    extras = ["postgres"]
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from depimage.errors import InputError, line_of, opt
from depimage.fingerprint.hashing import TAG_PREFIX
from depimage.fingerprint.options import ImageOptions, default_base_image
from depimage.fingerprint.pipeline import fingerprint
from depimage.fingerprint.record import Record, compare, record_of
from depimage.project.reader import Project, read_project, repository_root
from depimage.recipe.recipe import Recipe, build_recipe
from depimage.usecases.common import Host, ImageRequest, RegistryAccess, image_options

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build", "dist"}
TARGET_KEYS = {"package", "image", "no-dev", "extras", "groups", "base-image"}


@dataclass(frozen=True)
class PlanRequest:
    repo_dir: str
    image_template: str | None = None
    image: ImageRequest = ImageRequest()
    registry: RegistryAccess = RegistryAccess()
    tag_prefix: str = TAG_PREFIX
    check: bool = True
    context: str | None = None


@dataclass(frozen=True)
class Target:
    """One image to ensure: which project, which member, which options, which repository."""

    name: str
    project_dir: str  # as the next step can use it: the planned folder as given, joined with the project's
    package: str | None
    image: str  # REGISTRY/NAME
    options: ImageOptions
    hash: str = ""
    tag: str = ""
    present: bool | None = None
    changes: dict | None = None  # for a missing image: what moved since the newest image of its repository
    record: Record | None = field(default=None, repr=False, compare=False)  # what its image would record

    def as_matrix_entry(self) -> dict:
        """Everything the matrix job's ensure needs to hash what plan hashed: each option that shapes the image,
        named as the action's input."""
        o = self.options
        return {"name": self.name, "project-dir": self.project_dir, "package": self.package or "",
                "image": self.image, "tag": self.tag, "ref": f"{self.image}:{self.tag}", "hash": self.hash,
                "present": self.present, "no-dev": o.no_dev, "extras": ",".join(o.extras),
                "groups": ",".join(o.groups), "all-extras": o.all_extras, "all-groups": o.all_groups,
                "no-default-groups": o.no_default_groups, "platforms": ",".join(o.platforms),
                "build-args": "\n".join(f"{k}={v}" for k, v in o.build_args), "builder": o.builder,
                "base-digest": o.base_digest, "no-compile": o.no_compile,
                "base-image": o.base_image, "uv-version": o.uv_version, "uv-image": o.uv_image,
                "changes": self.changes}


def find_project_roots(repo_dir: Path) -> list[Path]:
    """Every folder with pyproject.toml and uv.lock, hidden and build folders left out, sorted."""
    roots = []
    for here, dirs, files in os.walk(repo_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if "uv.lock" in files and "pyproject.toml" in files:
            roots.append(Path(here))
    return roots


def targets_of(project: Project, rel_dir: str, base: ImageOptions, image_template: str | None) -> list[Target]:
    """The targets one project root declares, or its sensible default."""
    root = project.pyprojects[0]
    config = root.data.get("tool", {}).get("depimage", {})
    declared = config.get("targets")
    members = project.workspace_members()
    if declared is None:
        with_scripts = [pp for pp in members if pp.data.get("project", {}).get("scripts")]
        if with_scripts and len(members) > 1:
            declared = {pp.name: {"package": pp.name} for pp in with_scripts}
        elif len(members) == 1:
            declared = {members[0].name: {}}  # a lone project: the whole of it
        else:
            declared = {}
    template = config.get("image") or image_template
    targets = []
    for name, spec in declared.items():
        unknown = set(spec) - TARGET_KEYS
        if unknown:
            raise InputError(f"[tool.depimage.targets.{name}] has unknown key(s) {', '.join(sorted(unknown))}",
                             file=root.path, line=line_of(root.text, f"targets.{name}"),
                             hint=f"known keys: {', '.join(sorted(TARGET_KEYS))}")
        merged = {**{k: v for k, v in config.items() if k in TARGET_KEYS - {"image", "package"}}, **spec}
        image = spec.get("image") or (_fill(template, name) if template else None)
        if not image:
            raise InputError(f"no image for target {name!r}", file=root.path,
                             hint='set [tool.depimage] image = "REGISTRY/NAMESPACE/{name}", or name it with '
                                  + opt("image"))
        options = dataclasses.replace(
            base, package=spec.get("package"), no_dev=merged.get("no-dev", base.no_dev),
            extras=tuple(merged.get("extras", base.extras)), groups=tuple(merged.get("groups", base.groups)),
            base_image=merged.get("base-image") or base.base_image
            or default_base_image(project.root, root.data.get("project", {}).get("requires-python")))
        targets.append(Target(name, rel_dir, options.package, image, options))
    return targets


def _fill(template: str, name: str) -> str:
    return template.replace("{name}", name) if "{name}" in template else f"{template}/{name}"


def plan_targets(request: PlanRequest, host: Host) -> "Plan":
    """Every target of the repository with its hash (uv is asked for all of them at once), and (with check)
    whether the registry has its image."""
    base = image_options(request.image, Path(request.repo_dir), None)
    if not request.image.options.base_image:  # the default depends on each project: targets_of fills it in
        base = dataclasses.replace(base, base_image="")
    repo_dir = request.repo_dir
    repo = Path(repo_dir).resolve()
    roots = find_project_roots(repo)
    if not roots:
        raise InputError("no uv project (pyproject.toml with uv.lock) found", file=repo_dir,
                         hint="run `uv lock` in each project, or point plan at the repository root")
    bound = request.context or repository_root(repo) or repo  # local packages may lie anywhere in the repository
    work = []
    for root in roots:
        project = read_project(root, bound)
        recipe = build_recipe(project)
        rel = os.path.normpath(os.path.join(str(repo_dir), root.relative_to(repo).as_posix()))
        work += [(target, project, recipe) for target in targets_of(project, rel, base, request.image_template)]
    if not work:
        first = read_project(roots[0], bound).pyprojects[0]
        raise InputError(f"found {len(roots)} uv project(s) but no deployable target: no workspace member has "
                         "[project.scripts], and no [tool.depimage.targets] table names one", file=first.path,
                         hint='name the targets in the workspace root, e.g. [tool.depimage.targets.api] with '
                              'package = "api" (one table a deployable member)')
    names = [t.name for t, _, _ in work]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"target name(s) {', '.join(dupes)} used twice", hint="give targets unique names")

    def hashed(item: tuple[Target, Project, Recipe]) -> Target:
        target, project, recipe = item
        done = fingerprint(project, target.options, host.env, recipe=recipe)
        return dataclasses.replace(target, hash=done.hash.hex, tag=done.hash.tag(request.tag_prefix),
                                   record=record_of(done))

    with ThreadPoolExecutor(max_workers=min(8, len(work) or 1)) as pool:  # uv runs outside the GIL
        planned = list(pool.map(hashed, work))
    if request.check:
        planned = _check_all(planned, request.registry, request.tag_prefix)
    return Plan(planned)


def _check_all(targets: list[Target], access: RegistryAccess, tag_prefix: str) -> list[Target]:
    from depimage.oci.client import Registry
    from depimage.oci.reference import parse_image_name

    credentials: dict = {}  # one look-up a registry host

    def one(target: Target) -> Target:
        image = parse_image_name(target.image)
        if image.host not in credentials:
            credentials[image.host] = access.credentials(image)
        registry = Registry(image, credentials[image.host], insecure=access.insecure)
        present = registry.manifest_digest(target.tag) is not None
        return dataclasses.replace(target, present=present,
                                   changes=None if present else _since_latest(registry, tag_prefix, target))

    with ThreadPoolExecutor(max_workers=min(16, len(targets) or 1)) as pool:
        return list(pool.map(one, targets))


def _since_latest(registry, tag_prefix: str, target: Target) -> dict | None:
    """What moved since the newest image of the target's repository (base digests aside: plan does not read
    the base); None when there is none with a record."""
    from depimage.usecases.records import latest_record

    if target.record is None:
        return None
    old = latest_record(registry, tag_prefix)
    changes = compare(old, target.record) if old else None
    return changes.as_dict() if changes else None


@dataclass(frozen=True)
class Plan:
    targets: list[Target]

    def as_dict(self) -> dict:
        """strategy.matrix of the targets whose image is missing; all targets listed besides."""
        missing = [t.as_matrix_entry() for t in self.targets if not t.present]
        return {"matrix": {"include": missing}, "has-missing": bool(missing),
                "targets": [t.as_matrix_entry() for t in self.targets]}

    def outputs(self) -> dict[str, str]:
        """The action's outputs: JSON strings, ready for fromJSON."""
        import json

        done = self.as_dict()
        return {"matrix": json.dumps(done["matrix"]), "has-missing": str(done["has-missing"]).lower(),
                "targets": json.dumps(done["targets"])}

