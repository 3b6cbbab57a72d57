# The application image of one workspace member, FROM the dependency image `depimage plan` / `ensure
# --package` made for it (examples/monorepo.yml):
#
#   docker build -f member.Dockerfile --build-arg DEPS_IMAGE=<matrix.ref> --build-arg PACKAGE=api .
#
# `uv sync --package` installs the member and the workspace packages it uses; every third-party package is
# already in the dependency image. The member's console script of the same name is the command.
ARG DEPS_IMAGE
FROM ${DEPS_IMAGE}
ARG PACKAGE
ENV PACKAGE=${PACKAGE}
COPY . /app
RUN uv sync --frozen --no-dev --package "${PACKAGE}"
CMD ["sh", "-c", "exec \"$PACKAGE\""]
