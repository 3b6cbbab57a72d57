# No registry at all: the cargo-chef pattern with `depimage recipe`.
#   docker build -f recipe.Dockerfile --build-arg DEPIMAGE_IMAGE=depimage -t my-app .
# The planner stage sees the whole project and reruns on every commit, but the recipe it writes changes
# only when the dependencies do: BuildKit then finds the COPY --from=planner unchanged and keeps the
# `uv sync` of the deps stage cached across releases, version bumps and unrelated pyproject edits.
ARG DEPIMAGE_IMAGE
ARG PYTHON_IMAGE=python:3.12-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${DEPIMAGE_IMAGE} AS planner
COPY . /src
RUN depimage recipe /src --out /recipe

FROM ${PYTHON_IMAGE} AS deps
COPY --from=uv /uv /uvx /usr/local/bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY --from=planner /recipe /app
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-install-local --no-dev

FROM deps
COPY . /app
RUN uv sync --frozen --no-dev
