# The depimage action's image: Python, depimage, uv, the Docker CLI and its buildx plugin.
# The runner mounts the host's Docker socket, so builds run on the runner's engine.
#   docker build -t depimage .                                   # python:3.12-slim-bookworm
#   docker build --build-arg BASE_IMAGE=local/python:3.11-bookworm -t depimage .   # any Debian with python3-venv
ARG BASE_IMAGE=python:3.12-slim-bookworm
FROM ${BASE_IMAGE}
ARG UV_VERSION=0.13.9

# docker-cli and docker-buildx are Debian 13 packages (Go binaries, libc only); pinned low so nothing else moves.
# The mirror is the one the base image's own apt sources name.
RUN set -eux; \
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
             || sed -n 's/^deb \([^ ]*\) .*/\1/p' /etc/apt/sources.list | head -n 1); \
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" > /etc/apt/sources.list.d/trixie.sources; \
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie; \
    apt-get update; \
    apt-get install -y --no-install-recommends -t trixie docker-cli docker-buildx; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*

COPY pyproject.toml README.md /opt/depimage-src/
COPY src /opt/depimage-src/src
RUN set -eux; \
    if [ -n "${SSL_CERT_FILE:-}" ]; then export PIP_CERT="$SSL_CERT_FILE"; fi; \
    python3 -m venv /opt/depimage; \
    /opt/depimage/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}" /opt/depimage-src; \
    rm -rf /opt/depimage-src; \
    /opt/depimage/bin/depimage --version

# Interpreters the layered path compiles bytecode with, one per Python X.Y users' base images run (a .pyc is for
# one X.Y only); uv installs them. Empty where they cannot be downloaded (the tests' sandbox): the base image's
# own Python is then the only one.
ARG EXTRA_PYTHONS="3.10 3.11 3.12 3.13 3.14"
ENV UV_PYTHON_INSTALL_DIR=/opt/pythons
RUN set -eux; \
    if [ -n "${EXTRA_PYTHONS}" ]; then /opt/depimage/bin/uv python install ${EXTRA_PYTHONS}; fi

ENV PATH=/opt/depimage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
ENTRYPOINT ["/opt/depimage/bin/python", "-m", "depimage.doors.action"]
