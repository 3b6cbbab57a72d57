"""One image layer, made reproducibly: the same files give the same bytes, so the same digest, wherever and
whenever it is made. Entries are sorted, owned by root, stamped with one fixed time, with modes 0644 or 0755;
the gzip stream carries no time and no file name.

Deflate is zlib-ng's (the zlib-ng package, pinned): several times zlib's speed, so packing keeps pace with the
download, and its output is fixed by that one pinned library rather than by whichever zlib the machine has (no
deflate library promises the same bytes across its versions). Level 2: go-containerregistry's layers (ko,
crane) use level 1; level 2 is 5x zlib's default level's speed for about a tenth more bytes. Each 1 MiB of the
tar is deflated on its own, on every core, as pigz does.

A layer is packed as a stream: files are read from disk in chunks into the tar, the tar into the deflate stream,
and that into a file, while both digests are computed on the way. So packing a 3 GB wheel costs a few MB of
memory, not 3 GB twice over."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tarfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Union

from zlib_ng import zlib_ng

from depimage.layout import DIR_MODE, EXEC_MODE, FILE_MODE, FIXED_MTIME

Content = Union[bytes, Path]  # a file's bytes, or where they are on disk
LEVEL = 2
PIECE = 1 << 20  # bytes of tar deflated apart from the rest: a 1 MiB piece loses well under 1% to the cut
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Layer:
    digest: str  # sha256 of the gzipped tar: the manifest names the layer by it
    diff_id: str  # sha256 of the tar: the image config names the layer by it
    size: int  # bytes of the gzipped tar
    path: Path | None = None  # the gzipped tar on disk, for a layer packed into a folder
    data: bytes | None = None  # or in memory, for a small one

    @property
    def blob(self) -> bytes | Path:
        """What to upload: the bytes, or the file that holds them (streamed by the registry client)."""
        return self.data if self.data is not None else self.path  # type: ignore[return-value]

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()  # type: ignore[union-attr]


def _deflate(chunk: bytes) -> bytes:
    """One piece of the tar, deflated on its own and ended on a byte boundary (a sync flush, no final block), so
    the pieces laid end to end are one deflate stream whatever thread made each."""
    deflate = zlib_ng.compressobj(LEVEL, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS)
    return deflate.compress(chunk) + deflate.flush(zlib_ng.Z_SYNC_FLUSH)


_DEFLATERS = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="deflate")
_FINAL_BLOCK = b"\x03\x00"  # an empty final block (fixed Huffman): the end of the deflate stream


class _GzipSink(io.RawIOBase):
    """Where tarfile writes: the tar bytes hashed (diff_id), cut into PIECE-sized pieces deflated in parallel
    (as pigz does: a large layer packs on every core), the pieces written in order into one gzip member, and the
    gzip bytes hashed (digest). The pieces' bounds depend on the tar alone, so the bytes do not depend on the
    machine's core count; at most 2 pieces a core are in flight, so memory stays flat."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.tar_hash, self.gz_hash = out, hashlib.sha256(), hashlib.sha256()
        self.crc, self.length, self.size = 0, 0, 0
        self.piece = bytearray()
        self.pending: deque[Future[bytes]] = deque()
        # gzip's header with no time, no name, no level flags and OS 3 (Unix), written here so that no Python
        # release's gzip module (3.11 writes OS 3, later ones 255) moves a digest
        self._emit(struct.pack("<BBBBLBB", 0x1F, 0x8B, 8, 0, 0, 0, 3))

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.tar_hash.update(data)
        self.crc = zlib_ng.crc32(data, self.crc)
        self.length += len(data)
        self.piece += data
        while len(self.piece) >= PIECE:
            self._deflate(bytes(self.piece[:PIECE]))
            del self.piece[:PIECE]
        return len(data)

    def _deflate(self, piece: bytes) -> None:
        self.pending.append(_DEFLATERS.submit(_deflate, piece))
        while len(self.pending) > 2 * (os.cpu_count() or 2):
            self._emit(self.pending.popleft().result())

    def finish(self) -> None:
        if self.piece:
            self._deflate(bytes(self.piece))
        while self.pending:
            self._emit(self.pending.popleft().result())
        self._emit(_FINAL_BLOCK + struct.pack("<LL", self.crc, self.length & 0xFFFFFFFF))

    def _emit(self, data: bytes) -> None:
        if data:
            self.gz_hash.update(data)
            self.out.write(data)
            self.size += len(data)


def build_layer(files: dict[str, tuple[Content, bool]], symlinks: dict[str, str] | None = None,
                folders: tuple[str, ...] = (), into: Path | None = None) -> Layer:
    """files: path in the image (POSIX, no leading /) -> (content, executable); symlinks: path -> target;
    folders: empty folders to have. Parent folders are added. into: a file to pack into (a large layer);
    without it the layer is kept in memory."""
    links = symlinks or {}
    paths = set(files) | set(links) | set(folders)
    every = {str(parent) for path in paths for parent in PurePosixPath(path).parents if str(parent) != "."}
    every |= set(folders)
    out: BinaryIO = into.open("wb") if into is not None else io.BytesIO()
    try:
        sink = _GzipSink(out)
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_CHUNK) as tar:
            for path in sorted(every | set(files) | set(links)):
                info = tarfile.TarInfo(path)
                info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
                if path in files:
                    content, executable = files[path]
                    info.mode = EXEC_MODE if executable else FILE_MODE
                    if isinstance(content, Path):
                        info.size = content.stat().st_size
                        with content.open("rb") as fh:
                            tar.addfile(info, fh)
                    else:
                        info.size = len(content)
                        tar.addfile(info, io.BytesIO(content))
                elif path in links:
                    info.type, info.linkname, info.mode = tarfile.SYMTYPE, links[path], 0o777
                    tar.addfile(info)
                else:
                    info.type, info.mode = tarfile.DIRTYPE, DIR_MODE
                    tar.addfile(info)
        sink.finish()
    finally:
        if into is not None:
            out.close()
    digest, diff_id = "sha256:" + sink.gz_hash.hexdigest(), "sha256:" + sink.tar_hash.hexdigest()
    if into is not None:
        return Layer(digest, diff_id, sink.size, path=into)
    return Layer(digest, diff_id, sink.size, data=out.getvalue())  # type: ignore[attr-defined]
