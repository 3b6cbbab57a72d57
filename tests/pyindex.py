"""A real PEP 503 package index on loopback, optionally behind Basic auth: the "private index" of the tests.

It serves one tiny package built with real `uv build`, so uv resolves, locks and installs from it exactly
as it would from a company's index.
"""

from __future__ import annotations

import base64
import hashlib
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


def large_wheel(where: Path, name: str, size: int) -> Path:
    """A wheel of `name` 1.0.0 whose one data file is `size` bytes once installed (zeros: the wheel stays small,
    the installed set does not), made with zipfile as a build backend would."""
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
        chunk, digest = b"\0" * (1 << 20), hashlib.sha256()
        with zf.open(f"{name}/data.bin", "w", force_zip64=True) as fh:
            for _ in range(size // len(chunk)):
                fh.write(chunk)
                digest.update(chunk)
        record.append(f"{name}/data.bin,sha256={_b64(digest.digest())},{size // len(chunk) * len(chunk)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def serve(wheel: Path, user: str | None = None, password: str | None = None, *, hashes: bool = True) -> Index:
    """Serve the wheel (its package name from its file name); with hashes=False its link carries no #sha256=, as
    some private index products and PyTorch's download index serve files, so uv.lock records the file without a
    hash."""
    data = wheel.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    package = wheel.name.split("-")[0].replace("_", "-")
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
            if self.path.rstrip("/") == f"/simple/{package}":
                fragment = f"#sha256={digest}" if hashes else ""
                body = (f'<html><body><a href="/files/{wheel.name}{fragment}">{wheel.name}</a>'
                        "</body></html>").encode()
                ctype = "text/html"
            elif self.path.rstrip("/") == "/simple":
                body = f'<html><body><a href="/simple/{package}/">{package}</a></body></html>'.encode()
                ctype = "text/html"
            elif self.path == f"/files/{wheel.name}":
                body, ctype = data, "application/octet-stream"
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


def use_private_index(project: Path, index: Index, package: str = PACKAGE) -> None:
    """Point the project at the index (explicit, per-package source) and add the package from it."""
    text = (project / "pyproject.toml").read_text()
    text += (f'\n[[tool.uv.index]]\nname = "private"\nurl = "{index.url}"\nexplicit = true\n'
             f'\n[tool.uv.sources]\n{package} = {{ index = "private" }}\n')
    (project / "pyproject.toml").write_text(text)
    env = {}
    if index.user:
        env = {"UV_INDEX_PRIVATE_USERNAME": index.user, "UV_INDEX_PRIVATE_PASSWORD": index.password}
    uv("add", "-q", "--no-sync", package, cwd=project, env=env)
