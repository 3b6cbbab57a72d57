# The depimage action's image: Python, depimage, uv, the Docker CLI and its buildx plugin.
# The runner mounts the host's Docker socket, so builds run on the runner's engine.
#   docker build -t depimage .                                   # python:3.12-slim-bookworm
#   docker build --build-arg BASE_IMAGE=local/python:3.11-bookworm -t depimage .   # any Debian with python3-venv
ARG BASE_IMAGE=python:3.12-slim-bookworm
FROM ${BASE_IMAGE}
ARG UV_VERSION=0.13.9

# docker-cli and docker-buildx are Debian 13 packages (Go binaries, libc only); pinned low so nothing else moves.
RUN set -eux; \
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/trixie.sources; \
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

ENV PATH=/opt/depimage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
ENTRYPOINT ["/opt/depimage/bin/python", "-m", "depimage.doors.action"]
