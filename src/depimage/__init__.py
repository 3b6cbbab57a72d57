"""depimage: never reinstall a uv project's third-party dependencies when they did not change."""

__version__ = "0.6.0"  # the action image in action.yml carries the same version (tests check it)

# Bumped on purpose whenever the meaning of a recipe or of the generated Dockerfile changes,
# so that every hash changes with it and no stale image is reused.
RECIPE_FORMAT = 1

# The one version every local package (root, workspace members, path dependencies) is masked to.
MASKED_VERSION = "0.0.0"
