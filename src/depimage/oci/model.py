"""The OCI image spec's documents as frozen values, as go-containerregistry's v1 package has them: a Descriptor
(what a manifest or index says of a blob), a Manifest, an Index, a Config, a Platform. Each reads from and
writes to the registry's bytes; fields this code does not know are kept as they were, so reading and writing a
document again gives the same bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from depimage.oci.media import INDEXES, LAYER_TYPE, OCI_INDEX, OCI_MANIFEST

def dumps(document: dict) -> bytes:
    """The one JSON form depimage writes: sorted keys, no spaces, so the same document has one digest."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def layer_type(manifest_type: str) -> str:
    """The media type of a gzip layer in a manifest of this kind (Docker's, else OCI's)."""
    return LAYER_TYPE.get(manifest_type, LAYER_TYPE[OCI_MANIFEST])


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @property
    def name(self) -> str:
        """os/architecture[/variant]: linux/arm64/v8."""
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, name: str) -> "Platform":
        os_name, _, rest = name.partition("/")
        architecture, _, variant = rest.partition("/")
        return cls(os_name, architecture, variant)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> "Platform":
        """The platform of an index entry's `platform`, or of an image config (which has the same fields)."""
        return cls(document.get("os", ""), document.get("architecture", ""), document.get("variant", ""))

    def to_json(self) -> dict:
        return {"os": self.os, "architecture": self.architecture, **({"variant": self.variant} if self.variant else {})}


@dataclass(frozen=True)
class Descriptor:
    """A blob or manifest as a manifest or index points at it."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    rest: Mapping[str, Any] = field(default_factory=dict)  # fields kept as read (urls, artifactType, ...)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> "Descriptor":
        known = {"mediaType", "digest", "size", "annotations", "platform"}
        return cls(document.get("mediaType", ""), document["digest"], int(document.get("size", 0)),
                   dict(document.get("annotations") or {}),
                   Platform.of(document["platform"]) if "platform" in document else None,
                   {k: v for k, v in document.items() if k not in known})

    def to_json(self) -> dict:
        out = {**self.rest, "mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        return out

    def as_type(self, media_type: str) -> "Descriptor":
        return Descriptor(media_type, self.digest, self.size, self.annotations, self.platform, self.rest)

    def bare(self) -> "Descriptor":
        """Just what names the content (a referrer's subject)."""
        return Descriptor(self.media_type, self.digest, self.size)

    @property
    def artifact_type(self) -> str:
        """What an artifact is (an SBOM: application/vnd.cyclonedx+json), as a referrers index lists it."""
        return str(self.rest.get("artifactType", ""))


@dataclass(frozen=True)
class Manifest:
    """One platform's image: its config and its layers, bottom first."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str = ""  # OCI 1.1: what an artifact manifest holds (an SBOM)
    subject: Descriptor | None = None  # OCI 1.1: the manifest an artifact refers to

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                                    "config": self.config.to_json(), "layers": [layer.to_json() for layer in self.layers]}
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        if self.artifact_type:
            document["artifactType"] = self.artifact_type
        if self.subject is not None:
            document["subject"] = self.subject.to_json()
        return dumps(document)

    @property
    def layer_type(self) -> str:
        return layer_type(self.media_type)


@dataclass(frozen=True)
class Index:
    """An image for several platforms: one manifest each."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        document = {"schemaVersion": 2, "mediaType": self.media_type,
                    "manifests": [m.to_json() for m in self.manifests]}
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        return dumps(document)

    def images(self) -> tuple[Descriptor, ...]:
        """The entries that are images: a build attestation (platform unknown/unknown) is not."""
        return tuple(m for m in self.manifests if not (m.platform and m.platform.os == "unknown"))


def parse_document(body: bytes, media_type: str = "") -> Manifest | Index:
    """A manifest or an index, as the registry served it (its Content-Type, else the document's own)."""
    document = json.loads(body)
    media_type = media_type or document.get("mediaType", "")
    if media_type in INDEXES or "manifests" in document:
        return Index(media_type or OCI_INDEX, tuple(Descriptor.from_json(m) for m in document["manifests"]),
                     dict(document.get("annotations") or {}))
    return Manifest(media_type or document.get("mediaType") or OCI_MANIFEST, Descriptor.from_json(document["config"]),
                    tuple(Descriptor.from_json(layer) for layer in document.get("layers", [])),
                    dict(document.get("annotations") or {}), document.get("artifactType", ""),
                    Descriptor.from_json(document["subject"]) if "subject" in document else None)


@dataclass(frozen=True)
class Config:
    """An image config, kept whole as read (its JSON), with the few parts depimage reads and changes."""

    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, body: bytes) -> "Config":
        return cls(json.loads(body))

    def to_bytes(self) -> bytes:
        return dumps(dict(self.data))

    @property
    def settings(self) -> dict:
        """The `config` object: Env, Cmd, Labels, WorkingDir, ..."""
        return dict(self.data.get("config") or {})

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.settings.get("Labels") or {})

    @property
    def diff_ids(self) -> list[str]:
        return list((self.data.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def platform(self) -> Platform:
        return Platform.of(self.data)

    def appended(self, diff_ids: list[str], history: list[dict], settings: dict | None = None,
                 **fields: Any) -> "Config":
        """This config with layers appended (their diff_ids and history entries), `config` replaced by settings,
        and top-level fields (created, ...) set: mutate.Append and mutate.Config in one."""
        data = json.loads(json.dumps(dict(self.data)))  # a deep copy: the read config stays as it was
        data["rootfs"] = {**(data.get("rootfs") or {"type": "layers"}), "diff_ids": self.diff_ids + list(diff_ids)}
        data["history"] = list(data.get("history") or []) + list(history)
        if settings is not None:
            data["config"] = settings
        data.update(fields)
        return Config(data)
