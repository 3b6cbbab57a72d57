"""One image layer, made reproducibly: the same files give the same bytes, so the same digest, wherever and
whenever it is made. Entries are sorted, owned by root, stamped with one fixed time, with modes 0644 or 0755;
the gzip stream carries no time and no file name."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from depimage.layout import DIR_MODE, EXEC_MODE, FILE_MODE, FIXED_MTIME
from depimage.oci.digest import sha256_digest


@dataclass(frozen=True)
class Layer:
    blob: bytes  # the tar, gzipped: what the registry stores
    digest: str  # sha256 of blob: the manifest names the layer by it
    diff_id: str  # sha256 of the tar: the image config names the layer by it

    @property
    def size(self) -> int:
        return len(self.blob)


def build_layer(files: dict[str, tuple[bytes, bool]], symlinks: dict[str, str] | None = None,
                folders: tuple[str, ...] = ()) -> Layer:
    """files: path in the image (POSIX, no leading /) -> (content, executable); symlinks: path -> target;
    folders: empty folders to have. Parent folders are added."""
    links = symlinks or {}
    paths = set(files) | set(links) | set(folders)
    every = {str(parent) for path in paths for parent in PurePosixPath(path).parents if str(parent) != "."}
    every |= set(folders)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(every | set(files) | set(links)):
            info = tarfile.TarInfo(path)
            info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
            if path in files:
                content, executable = files[path]
                info.size, info.mode = len(content), EXEC_MODE if executable else FILE_MODE
                tar.addfile(info, io.BytesIO(content))
            elif path in links:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, links[path], 0o777
                tar.addfile(info)
            else:
                info.type, info.mode = tarfile.DIRTYPE, DIR_MODE
                tar.addfile(info)
    tar_bytes = raw.getvalue()
    blob = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    return Layer(blob=blob, digest=sha256_digest(blob), diff_id=sha256_digest(tar_bytes))
