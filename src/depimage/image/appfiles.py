"""The files of the application layer: the project's own packages (the selected project and the local packages
it uses, which the dependency image leaves out), built into wheels by uv and installed with pypa/installer
into the dependency image's layout; or, for a project without a build system, its files. Plus the files the
user includes beyond the package.

Layout (see dockerfile.py): packages under APP_SITE, which the dependency image's virtual environment puts on
sys.path with a .pth file, so one layer fits any Python version; console scripts in /opt/venv/bin, started by
/opt/venv/bin/python; data files under /opt/venv; other files under WORKDIR /app."""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from depimage.errors import DepimageError, InputError
from depimage.fingerprint.installed import export_installed
from depimage.fingerprint.options import ImageOptions
from depimage.image.dockerignore import files_of, read_patterns
from depimage.layout import APP_SITE, VENV, WORKDIR
from depimage.project.names import normalize_name
from depimage.project.reader import Project, read_toml
from depimage.project.uv import run_uv

COMPILED_HINT = ("a project with compiled extensions needs its wheel built for the image's platform: use the "
                 "Dockerfile path (FROM the dependency image, then `uv sync`; see examples/Dockerfile)")


@dataclass
class AppFiles:
    files: dict[str, tuple[bytes, bool]] = field(default_factory=dict)  # image path -> (content, executable)
    scripts: list[str] = field(default_factory=list)  # console scripts of the selected project
    installed: list[str] = field(default_factory=list)  # name==version of each package installed

    def add(self, path: str, content: bytes, executable: bool = False) -> None:
        self.files[path.lstrip("/")] = (content, executable)


def local_packages(project: Project, options: ImageOptions, env: Mapping[str, str]) -> list[dict]:
    """The project's own packages that `uv sync` with these options installs, as uv's export names them."""
    packages = tomllib.loads(export_installed(project, options, env, local=True).text).get("packages", [])
    return [p for p in packages if "directory" in p or ("archive" in p and "path" in p["archive"])]


def collect(project: Project, options: ImageOptions, include: list[str], env: Mapping[str, str],
            on_status: Callable[[str], None] = lambda msg: None) -> AppFiles:
    """Build and install the project's own packages; add the included files. InputError for a compiled one.
    env: what uv runs with (a build backend may come from a private index that needs its credentials)."""
    out = AppFiles()
    selected = options.package or project.pyprojects[0].name
    with tempfile.TemporaryDirectory(prefix="depimage-app-") as tmp:
        wheels, virtual = Path(tmp) / "wheels", []
        wheels.mkdir()
        for pkg in local_packages(project, options, env):
            if "archive" in pkg:
                source = (project.root / pkg["archive"]["path"]).resolve()
                if source.suffix == ".whl":  # a wheel kept in the repository is installed as it is
                    shutil.copy(source, wheels / source.name)
                    continue
            else:
                source = (project.root / pkg["directory"]["path"]).resolve()
                if not _is_package(source):
                    virtual.append(source)
                    continue
            on_status(f"building {pkg['name']} into a wheel")
            _build_wheel(source, wheels, env)
        if not list(wheels.glob("*.whl")) and not virtual:
            virtual.append(project.root)  # a virtual project: uv lists no local package for it
        staging = Path(tmp) / "root"
        for wheel in sorted(wheels.glob("*.whl")):
            _install(wheel, staging, out, is_selected=normalize_name(wheel.name.split("-")[0]) ==
                     normalize_name(selected or ""))
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            rel = path.relative_to(staging).as_posix()
            out.add(rel, path.read_bytes(), executable=rel.startswith(f"{VENV.lstrip('/')}/bin/"))
    patterns = read_patterns(project.root)
    for folder in virtual:  # no build system: the project's files themselves, as `COPY . /app` would
        base = folder.relative_to(project.root).as_posix() if folder != project.root else ""
        for rel in files_of(folder, patterns):
            out.add(f"{WORKDIR}/{base}/{rel}" if base else f"{WORKDIR}/{rel}", (folder / rel).read_bytes())
    if include:
        found = files_of(project.root, patterns, only=include)
        if not found:
            raise InputError(f"no file matches the include pattern(s) {', '.join(include)}", file=project.root,
                             hint="patterns are relative to the project folder, with .dockerignore syntax")
        for rel in found:
            out.add(f"{WORKDIR}/{rel}", (project.root / rel).read_bytes(),
                    executable=bool((project.root / rel).stat().st_mode & 0o111))
    return out


def _is_package(folder: Path) -> bool:
    """Whether uv builds and installs this project (a build system, and not `package = false`)."""
    try:
        _, data = read_toml(folder / "pyproject.toml")
    except InputError:
        return False
    package = data.get("tool", {}).get("uv", {}).get("package")
    return package is True or (package is None and "build-system" in data)


def _build_wheel(source: Path, out_dir: Path, env: Mapping[str, str]) -> None:
    proc = run_uv(["build", "--wheel", "--out-dir", str(out_dir), "--quiet", str(source)],
                  cwd=str(source.parent if source.is_file() else source), env={**env, "UV_NO_PROGRESS": "1"})
    if proc.returncode != 0:
        raise DepimageError(f"uv build of {source} failed:\n{proc.stderr.strip()[-2000:]}",
                            hint="`uv build --wheel` there shows the same; fix the build, or use the Dockerfile path")


def _install(wheel: Path, staging: Path, out: AppFiles, *, is_selected: bool) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    parts = wheel.name[:-4].split("-")
    name, version, platform = parts[0], parts[1], parts[-1]
    if platform != "any":
        raise InputError(f"{wheel.name} is not pure Python (platform tag {platform!r})", hint=COMPILED_HINT)
    scheme = {"purelib": APP_SITE, "platlib": APP_SITE, "scripts": f"{VENV}/bin", "data": VENV,
              "headers": f"{VENV}/include/{name}"}
    destination = SchemeDictionaryDestination(scheme, interpreter=f"{VENV}/bin/python", script_kind="posix",
                                              destdir=str(staging))
    with WheelFile.open(wheel) as source:
        if source.read_dist_info("WHEEL").find("Root-Is-Purelib: true") < 0:
            raise InputError(f"{wheel.name} is not pure Python (Root-Is-Purelib is false)", hint=COMPILED_HINT)
        if is_selected and "entry_points.txt" in source.dist_info_filenames:
            out.scripts += _console_scripts(source.read_dist_info("entry_points.txt"))
        install(source, destination, additional_metadata={"INSTALLER": b"depimage\n"})
    out.installed.append(f"{name}=={version}")


def _console_scripts(text: str) -> list[str]:
    scripts, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "console_scripts" and "=" in line:
            scripts.append(line.split("=")[0].strip())
    return scripts
