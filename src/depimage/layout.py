"""The layout contract of a dependency image, which `app`, the Dockerfile path and the layered assembly all
rely on, and how every file depimage writes is stamped, so that the same files give the same bytes."""

VENV = "/opt/venv"  # the virtual environment: on PATH, UV_PROJECT_ENVIRONMENT
WORKDIR = "/app"
APP_SITE = "/opt/depimage/app"  # where `depimage app` installs the project; on sys.path through a .pth file
APP_SITE_PTH = "depimage-app.pth"
APP_SITE_LABEL = "dev.depimage.app-site"
HASH_LABEL = "dev.depimage.hash"
SOURCE_LABEL = "org.opencontainers.image.source"
REVISION_LABEL = "org.opencontainers.image.revision"
DEPS_IMAGE_LABEL = "dev.depimage.deps-image"
LATEST = "latest"  # after the tag prefix: the newest dependency image of a repository, compared and reused
# --layer-store: the owner's depimage-layers (image/store.py), or no store; here, so the doors read it cheaply
LAYER_STORE_AUTO, LAYER_STORE_OFF = "auto", "off"

FIXED_MTIME = 315532800  # 1980-01-01, the zip epoch: any fixed value keeps copies byte-identical
FILE_MODE, EXEC_MODE, DIR_MODE = 0o644, 0o755, 0o755
