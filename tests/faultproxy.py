"""A loopback HTTP proxy in front of a real registry that answers 500 to the first few requests matching a
method and path (500, or the status and error list given), and forwards everything else untouched. It stands in for what Distribution does when
two pushes of the same blobs collide, which a real race produces only now and then."""

from __future__ import annotations

import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class FaultProxy:
    """Start with `with FaultProxy(upstream, "PUT", r"/manifests/", failures=1) as proxy:`; proxy.address is
    HOST:PORT; proxy.log lists (method, path, status) of every request, injected ones included, and
    proxy.downloaded counts the response bytes (failures=0: a recording proxy that injects nothing). With
    forward_failures, an injected request still reaches the registry: as when a concurrent run's identical
    push lands and ours is answered 500."""

    def __init__(self, upstream: str, method: str, path_pattern: str, failures: int = 1,
                 forward_failures: bool = False, status: int = 500, no_mounts: bool = False,
                 errors: tuple[tuple[str, str], ...] = (("UNKNOWN", "injected by the test proxy"),)) -> None:
        self.upstream = upstream
        self.status = status  # what an injected request is answered, with Distribution's error list (code, message)
        self.payload = json.dumps({"errors": [{"code": c, "message": m} for c, m in errors]}).encode()
        self.forward_failures = forward_failures  # the request lands upstream, and the client still sees 500
        self.no_mounts = no_mounts  # a registry that declines cross-repository mounts: ?mount= is dropped, so the
        # registry opens a plain upload (202), as the distribution spec lets a registry answer a mount
        self.method = method
        self.pattern = re.compile(path_pattern)
        self.failures_left = failures
        self.log: list[tuple[str, str, int]] = []
        self.downloaded = 0  # bytes of response bodies sent to the client: what it downloaded
        self.uploaded = 0  # bytes of request bodies the client sent: what it pushed
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _inject(self, method: str, path: str) -> bool:
        with self._lock:
            if method == self.method and self.pattern.search(path) and self.failures_left > 0:
                self.failures_left -= 1
                return True
            return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                with proxy._lock:
                    proxy.uploaded += len(body)
                inject = proxy._inject(self.command, self.path)
                if inject and proxy.forward_failures:
                    self._upstream(body)
                if inject:
                    payload = proxy.payload
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    proxy.log.append((self.command, self.path, proxy.status))
                    return
                response, data = self._upstream(body)
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                if self.command != "HEAD" or response.getheader("Content-Length") is None:
                    self.send_header("Content-Length", str(len(data)))
                else:
                    self.send_header("Content-Length", response.getheader("Content-Length"))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                    with proxy._lock:
                        proxy.downloaded += len(data)
                proxy.log.append((self.command, self.path, response.status))

            def _path(self) -> str:
                if proxy.no_mounts and self.command == "POST" and "mount=" in self.path:
                    return self.path.split("?", 1)[0]
                return self.path

            def _upstream(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
                headers: dict[str, str] = {}
                for key, value in self.headers.items():  # clients repeat Accept: keep every value
                    if key.lower() not in HOP_BY_HOP:
                        headers[key] = f"{headers[key]}, {value}" if key in headers else value
                headers["Content-Length"] = str(len(body))  # the Host header is kept: Locations point here
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self._path(), body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                return response, data

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        return Handler
