"""What a dependency image is, recorded in its config as two labels, and what changed between two of them.

`dev.depimage.installed`: every package `uv sync` installs, as [name, version, source, files] where files is a
short digest of the package's locked files (so "same version, other files" shows). `dev.depimage.inputs`: the
hash inputs that are not packages: recipe format, the options (uv version and image, selection, platforms,
builder, ...), and the base image's digest where it was read. A miss prints the difference from the newest image
of the repository, so a user whose CI suddenly rebuilds sees why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from depimage import RECIPE_FORMAT
from depimage.fingerprint.installed import locked_packages
from depimage.fingerprint.pipeline import Fingerprint

INSTALLED_LABEL = "dev.depimage.installed"
INPUTS_LABEL = "dev.depimage.inputs"


@dataclass(frozen=True)
class Record:
    packages: dict[str, tuple[str, str, str]]  # name -> (version, source, files digest)
    inputs: dict  # {"format": ..., "options": {...}, "base-digest": "..."}

    def labels(self) -> dict[str, str]:
        rows = [[name, *self.packages[name]] for name in sorted(self.packages)]
        return {INSTALLED_LABEL: json.dumps(rows, separators=(",", ":")),
                INPUTS_LABEL: json.dumps(self.inputs, sort_keys=True, separators=(",", ":"))}


def record_of(prepared: Fingerprint, base_digest: str = "") -> Record:
    """The record of the image this fingerprint makes."""
    sources = {p["name"]: p["source"] for p in prepared.installed.packages()}
    packages = {}
    for p in locked_packages(prepared.installed.data):
        files = hashlib.sha256("\n".join(p.files).encode()).hexdigest()[:12]
        packages[p.name] = (p.version, sources.get(p.name, ""), files)
    inputs = {"format": RECIPE_FORMAT, "options": prepared.options.as_dict()}
    if base_digest:
        inputs["base-digest"] = base_digest
    return Record(packages, json.loads(json.dumps(inputs)))  # as the label reads back: lists, not tuples


def record_from_labels(labels: dict[str, str]) -> Record | None:
    """The record an image carries, or None for an image made before records (or not by depimage)."""
    if INSTALLED_LABEL not in labels or INPUTS_LABEL not in labels:
        return None
    try:
        rows = json.loads(labels[INSTALLED_LABEL])
        return Record({r[0]: (r[1], r[2], r[3]) for r in rows}, json.loads(labels[INPUTS_LABEL]))
    except (ValueError, IndexError, TypeError):
        return None


@dataclass(frozen=True)
class Changes:
    added: list[tuple[str, str]] = field(default_factory=list)  # (name, version)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (name, old, new); old == new: other files
    options: list[tuple[str, object, object]] = field(default_factory=list)  # (option, old, new)
    base: tuple[str, str] | None = None  # (old digest, new digest)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.options or self.base)

    def as_dict(self) -> dict:
        return {"added": [{"name": n, "version": v} for n, v in self.added],
                "removed": [{"name": n, "version": v} for n, v in self.removed],
                "changed": [{"name": n, "old": o, "new": w} for n, o, w in self.changed],
                "options": [{"option": k, "old": o, "new": w} for k, o, w in self.options],
                "base": {"old": self.base[0], "new": self.base[1]} if self.base else None}

    def lines(self) -> list[str]:
        """One line a change, for people."""
        out = [f"+ {n} {v}" for n, v in self.added] + [f"- {n} {v}" for n, v in self.removed]
        out += [f"~ {n} {o} -> {w}" if o != w else f"~ {n} {o} (same version, other files)"
                for n, o, w in self.changed]
        out += [f"option {k}: {json.dumps(o)} -> {json.dumps(w)}" for k, o, w in self.options]
        if self.base:
            out.append(f"base image {self.base[0] or '(not recorded)'} -> {self.base[1]}")
        return out

    def table(self) -> str:
        """Markdown for a job summary."""
        rows = [("added", n, "", v) for n, v in self.added] + [("removed", n, v, "") for n, v in self.removed]
        rows += [("changed", n, o, w if w != o else f"{w} (other files)") for n, o, w in self.changed]
        rows += [("option", k, json.dumps(o), json.dumps(w)) for k, o, w in self.options]
        if self.base:
            rows.append(("base", "image", self.base[0], self.base[1]))
        return "| change | what | before | now |\n|---|---|---|---|\n" + "".join(
            f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)


def changes_from_dict(data: dict) -> Changes:
    """Changes back from as_dict (the action gets them in a result)."""
    base = data.get("base")
    return Changes([(a["name"], a["version"]) for a in data.get("added", [])],
                   [(r["name"], r["version"]) for r in data.get("removed", [])],
                   [(c["name"], c["old"], c["new"]) for c in data.get("changed", [])],
                   [(o["option"], o["old"], o["new"]) for o in data.get("options", [])],
                   (base["old"], base["new"]) if base else None)


def compare(old: Record, new: Record) -> Changes:
    """What moved from old to new: packages by name, options by key, the base by digest."""
    changes = Changes()
    for name in sorted(set(new.packages) - set(old.packages)):
        changes.added.append((name, new.packages[name][0]))
    for name in sorted(set(old.packages) - set(new.packages)):
        changes.removed.append((name, old.packages[name][0]))
    for name in sorted(set(old.packages) & set(new.packages)):
        if old.packages[name] != new.packages[name]:
            changes.changed.append((name, old.packages[name][0], new.packages[name][0]))
    old_options, new_options = old.inputs.get("options", {}), new.inputs.get("options", {})
    for key in sorted(set(old_options) | set(new_options)):
        if old_options.get(key) != new_options.get(key):
            changes.options.append((key, old_options.get(key), new_options.get(key)))
    if old.inputs.get("format") != new.inputs.get("format"):
        changes.options.append(("recipe format", old.inputs.get("format"), new.inputs.get("format")))
    old_base, new_base = old.inputs.get("base-digest", ""), new.inputs.get("base-digest", "")
    if new_base and old_base != new_base:
        return Changes(changes.added, changes.removed, changes.changed, changes.options, (old_base, new_base))
    return changes
