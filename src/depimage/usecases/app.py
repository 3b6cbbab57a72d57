"""app: the application image, the dependency image plus one layer with the project, assembled on the
registry. The builder is needed only when the dependency image is missing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterator

from depimage.fingerprint.hashing import TAG_PREFIX
from depimage.image.appfiles import collect
from depimage.image.appimage import Assembled, Assembly, assemble
from depimage.image.layer import build_layer
from depimage.image.runconfig import Runtime, from_pyproject
from depimage.image.sbom import Installed, attach_each, read_sbom
from depimage.layout import DEPS_IMAGE_LABEL, REVISION_LABEL, SOURCE_LABEL
from depimage.oci.client import Registry
from depimage.oci.model import Descriptor
from depimage.oci.reference import check_tag, is_digest, parse_image_name, parse_image_ref, without_tag
from depimage.sizes import human_size
from depimage.usecases.common import Host, ImageRequest, RegistryAccess, source_labels
from depimage.usecases.ensure import EnsureRequest, ensure_fingerprint
from depimage.usecases.hash import HashRequest, hash_project


@dataclass(frozen=True)
class AppRequest:
    """The application image: the dependency image (ensured from `image`, or `deps_image` as given) plus one
    layer with the project, assembled on the registry."""

    project_dir: str
    image_name: str  # REGISTRY/NAME of the application image
    tag: str
    image: ImageRequest = ImageRequest()
    registry: RegistryAccess = RegistryAccess()
    deps_image: str = ""  # REGISTRY/NAME:TAG or @DIGEST: used as it is, nothing ensured
    deps_repository: str = ""  # where to ensure the dependency image; default: image_name itself
    runtime: Runtime = Runtime()  # on top of [tool.depimage.app]
    tag_prefix: str = TAG_PREFIX
    network: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class AppResult:
    image: str  # REGISTRY/NAME:TAG
    digest: str  # of the manifest (or index): same inputs, same digest
    deps_image: str  # the dependency image it stands on, by digest
    platforms: list[str]
    layer_size: int  # compressed bytes of the application layer
    uploaded: int  # bytes this run sent to the registry: 0 when it had everything
    installed: list[str]  # the project's own packages in the layer, name==version
    tag: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "tag"}

    def outputs(self) -> dict[str, str]:
        """The action's outputs."""
        return {"image": self.image, "name": without_tag(self.image), "digest": self.digest,
                "deps-image": self.deps_image, "tag": self.tag}


def _attach_app_sboms(deps: Registry, app: Registry, done: Assembled, project: list[str], describes: str,
                      on_status: Callable[[str], None]) -> None:
    """Each platform's SBOM: the dependency image's (read from its referrer) and the project's own packages."""
    own = [Installed(*spec.split("==", 1), application=True) for spec in project if "==" in spec]

    def listings() -> Iterator[tuple[Descriptor, list[Installed]]]:  # read one by one, as attach_each goes
        for manifest, over in zip(done.manifests, done.over):
            listed = read_sbom(deps, over)
            if listed is None:
                on_status(f"the dependency image {deps.image.name}@{over[:19]} has no SBOM (made by an older depimage "
                          "or the builder path): the application's SBOM lists the project's packages alone")
            yield manifest, [d for d in listed or [] if not d.application] + own

    attach_each(app, listings(), describes, on_status)


def app_image(request: AppRequest, host: Host, on_line: Callable[[str], None] = lambda line: None,
              on_status: Callable[[str], None] = lambda msg: None) -> AppResult:
    """Ensure (or take) the dependency image, build the project's layer, assemble the image on the registry."""
    app = parse_image_name(request.image_name)
    if request.deps_repository:
        parse_image_name(request.deps_repository, "deps_repository")
    check_tag(request.tag, "tag")
    check_tag(request.tag_prefix + "0" * 24, "tag_prefix")
    deps_given = parse_image_ref(request.deps_image, "deps_image") if request.deps_image else None
    prepared = hash_project(HashRequest(request.project_dir, request.image, request.context), host)
    project = prepared.project
    runtime = from_pyproject(project.pyprojects[0]).merged(request.runtime)
    if deps_given:
        deps, reference = deps_given
    else:
        repository = request.deps_repository or request.image_name
        ensured = ensure_fingerprint(EnsureRequest(request.project_dir, repository, request.image, request.registry,
                                                   request.tag_prefix, network=request.network,
                                                   context=request.context),
                                     prepared, host, on_line, on_status)
        deps, reference = parse_image_name(repository), ensured.digest
    files = collect(project, prepared.options, list(runtime.include), host.env, on_status)
    layer = build_layer(files.files)
    source = source_labels(project.root, host)
    deps_ref = f"{deps.name}@{reference}" if is_digest(reference) else deps.ref(reference)
    labels = {SOURCE_LABEL: source["DEPIMAGE_SOURCE"], REVISION_LABEL: source["DEPIMAGE_REVISION"],
              DEPS_IMAGE_LABEL: deps_ref}
    labels = {k: v for k, v in labels.items() if v}
    what = Assembly(layer, runtime, files.scripts[:1] if len(files.scripts) == 1 else None, labels,
                    f"depimage app: {' '.join(files.installed) or 'the project files'}")
    on_status(f"assembling {app.ref(request.tag)} on the registry: {len(files.files)} files in a "
              f"{human_size(layer.size)} layer over {deps_ref}")
    app_creds = request.registry.credentials(app)
    deps_creds = request.registry.credentials_beside(deps, app)
    insecure = request.registry.insecure
    deps_registry, app_registry = Registry(deps, deps_creds, insecure=insecure), Registry(app, app_creds,
                                                                                          insecure=insecure)
    done = assemble(deps_registry, reference, app_registry, request.tag, what, on_status)
    _attach_app_sboms(deps_registry, app_registry, done, files.installed, f"application image {request.tag}",
                      on_status)
    return AppResult(image=app.ref(request.tag), digest=done.digest, deps_image=deps_ref, platforms=done.platforms,
                     layer_size=layer.size, uploaded=done.uploaded, installed=files.installed, tag=request.tag)
