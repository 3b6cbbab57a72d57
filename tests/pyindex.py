"""A real PEP 503 package index on loopback, optionally behind Basic auth: the "private index" of the tests.

It serves one tiny package built with real `uv build`, so uv resolves, locks and installs from it exactly
as it would from a company's index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from helpers import uv

PACKAGE = "privpkg"


def build_wheel(where: Path, version: str = "1.0.0") -> Path:
    """A wheel of a package with one module whose contents say where it came from."""
    where.mkdir(parents=True, exist_ok=True)
    src = where / f"{PACKAGE}-src"
    uv("init", "-q", "--lib", "--no-workspace", "--name", PACKAGE, str(src), cwd=where)
    (src / "pyproject.toml").write_text((src / "pyproject.toml").read_text().replace('version = "0.1.0"', f'version = "{version}"'))
    (src / "src" / PACKAGE / "__init__.py").write_text('ORIGIN = "private index"\n')
    uv("build", "-q", "--wheel", "--out-dir", str(where / "dist"), cwd=src)
    return next((where / "dist").glob("*.whl"))


@dataclass
class Index:
    url: str
    user: str | None
    password: str | None
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def large_wheel(where: Path, name: str, size: int, *, incompressible: bool = False) -> Path:
    """A wheel of `name` 1.0.0 whose one data file is `size` bytes once installed, made with zipfile as a build
    backend would: zeros (the wheel stays small, the installed set does not), or with incompressible, bytes drawn
    from a generator seeded by the name (the wheel is as large: a heavy package, a layer of its own)."""
    import random
    import zipfile

    where.mkdir(parents=True, exist_ok=True)
    wheel = where / f"{name}-1.0.0-py3-none-any.whl"
    info = f"{name}-1.0.0.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: depimage-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
             f"{name}/__init__.py": b"SIZE = %d\n" % size}
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in files.items():
            zf.writestr(path, content)
            record.append(f"{path},sha256={_b64(hashlib.sha256(content).digest())},{len(content)}")
        chunk, digest, draw = b"\0" * (1 << 20), hashlib.sha256(), random.Random(name)
        with zf.open(f"{name}/data.bin", "w", force_zip64=True) as fh:
            for _ in range(size // len(chunk)):
                data = draw.randbytes(len(chunk)) if incompressible else chunk
                fh.write(data)
                digest.update(data)
        record.append(f"{name}/data.bin,sha256={_b64(digest.digest())},{size // len(chunk) * len(chunk)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def serve(wheels: Path | list[Path], user: str | None = None, password: str | None = None, *,
          hashes: bool = True) -> Index:
    """Serve the wheels (each one's package name from its file name); with hashes=False a link carries no
    #sha256=, as some private index products and PyTorch's download index serve files, so uv.lock records the file
    without a hash. index.requests lists every path asked for: /files/NAME is a download."""
    files = {wheel.name: wheel.read_bytes() for wheel in ([wheels] if isinstance(wheels, Path) else wheels)}
    packages: dict[str, list[str]] = {}
    for filename in files:
        packages.setdefault(filename.split("-")[0].replace("_", "-"), []).append(filename)
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
    index = Index(url="", user=user, password=password)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head: bool = False):
            index.requests.append(self.path)
            if expected and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            path = self.path.rstrip("/")
            # without hashes, HTML alone, as PyTorch's download index serves it (uv.lock then has no size either)
            wants_json = hashes and "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", "")
            if path.startswith("/simple/") and path[len("/simple/"):] in packages and wants_json:
                # the JSON API (PEP 691, 700), as PyPI serves it: with each file's size, which uv.lock records
                name = path[len("/simple/"):]
                body = json.dumps({"meta": {"api-version": "1.1"}, "name": name, "versions": ["1.0.0"], "files": [
                    {"filename": f, "url": f"/files/{f}", "size": len(files[f]),
                     "hashes": {"sha256": hashlib.sha256(files[f]).hexdigest()} if hashes else {}}
                    for f in packages[name]]}).encode()
                ctype = "application/vnd.pypi.simple.v1+json"
            elif path.startswith("/simple/") and path[len("/simple/"):] in packages:
                links = []
                for filename in packages[path[len("/simple/"):]]:
                    fragment = f"#sha256={hashlib.sha256(files[filename]).hexdigest()}" if hashes else ""
                    links.append(f'<a href="/files/{filename}{fragment}">{filename}</a>')
                body, ctype = f"<html><body>{''.join(links)}</body></html>".encode(), "text/html"
            elif path == "/simple":
                body = ("<html><body>" + "".join(f'<a href="/simple/{p}/">{p}</a>' for p in packages)
                        + "</body></html>").encode()
                ctype = "text/html"
            elif path.startswith("/files/") and path[len("/files/"):] in files:
                body, ctype = files[path[len("/files/"):]], "application/octet-stream"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index.server = server
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return index


def use_private_index(project: Path, index: Index, package: str | list[str] = PACKAGE) -> None:
    """Point the project at the index (explicit, per-package source) and add the package(s) from it."""
    names = [package] if isinstance(package, str) else package
    text = (project / "pyproject.toml").read_text()
    text += (f'\n[[tool.uv.index]]\nname = "private"\nurl = "{index.url}"\nexplicit = true\n'
             "\n[tool.uv.sources]\n" + "".join(f'{name} = {{ index = "private" }}\n' for name in names))
    (project / "pyproject.toml").write_text(text)
    env = {}
    if index.user:
        env = {"UV_INDEX_PRIVATE_USERNAME": index.user, "UV_INDEX_PRIVATE_PASSWORD": index.password}
    uv("add", "-q", "--no-sync", *names, cwd=project, env=env)
