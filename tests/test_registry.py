"""The registry client against a small fake registry on loopback: the Bearer token dance of ghcr.io and
Docker Hub, retries, and names. The real Distribution registry is exercised in test_ensure_e2e.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from depimage.errors import InputError
from depimage.oci.client import Registry, RegistryError
from depimage.oci.credentials import Credentials
from depimage.oci.reference import parse_image_name


class FakeRegistry:
    """Bearer auth like ghcr.io: /v2 manifests need a token from /token, which needs Basic credentials
    when `password` is set. `fail_first` answers that many requests with `fail_status` first."""

    def __init__(self, password: str | None = None, fail_first: int = 0, fail_status: int = 503):
        self.password, self.fail_first, self.fail_status = password, fail_first, fail_status
        self.log: list[tuple[str, str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, headers=None, body=b""):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_one(self):
                fake.log.append((self.command, self.path, self.headers.get("Authorization", "")))
                if fake.fail_first > 0:
                    fake.fail_first -= 1
                    return self._send(fake.fail_status, {"Retry-After": "0"})
                if self.path.startswith("/token"):
                    import base64

                    want = "Basic " + base64.b64encode(f"bot:{fake.password}".encode()).decode()
                    if fake.password and self.headers.get("Authorization") != want:
                        return self._send(401)
                    return self._send(200, {"Content-Type": "application/json"}, json.dumps({"token": "T0K"}).encode())
                if self.headers.get("Authorization") != "Bearer T0K":
                    realm = f"http://127.0.0.1:{fake.port}/token"
                    return self._send(401, {"WWW-Authenticate":
                                            f'Bearer realm="{realm}",service="fake",scope="repository:acme/api:pull"'})
                if self.path == "/v2/acme/api/manifests/present":
                    assert "application/vnd.oci.image.index.v1+json" in self.headers["Accept"]
                    return self._send(200, {"Docker-Content-Digest": "sha256:abc"})
                return self._send(404)

            do_GET = do_HEAD = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client(self, credentials=None, **kw) -> Registry:
        return Registry(parse_image_name(f"127.0.0.1:{self.port}/acme/api"), credentials, backoff=0.01, **kw)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    servers = []

    def make(**kw):
        servers.append(FakeRegistry(**kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_bearer_anonymous(fake):
    reg = fake()
    client = reg.client()
    assert client.manifest_digest("present") == "sha256:abc"
    assert client.manifest_digest("absent") is None
    assert [c for c, p, _ in reg.log] == ["HEAD", "GET", "HEAD", "HEAD"]  # the token is reused


def test_bearer_with_credentials_and_refusal(fake):
    reg = fake(password="pw")
    assert reg.client(Credentials("bot", "pw")).manifest_digest("present") == "sha256:abc"
    with pytest.raises(RegistryError) as err:
        reg.client(Credentials("bot", "wrong-pw-99")).manifest_digest("present")
    assert "refused user 'bot'" in str(err.value) and "wrong-pw-99" not in str(err.value)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_then_succeeds(fake, status):
    reg = fake(fail_first=2, fail_status=status)
    assert reg.client().manifest_digest("present") == "sha256:abc"


def test_gives_up_after_attempts(fake):
    reg = fake(fail_first=100)
    with pytest.raises(RegistryError, match="unavailable: HTTP 503 \\(tried 3 times\\)"):
        reg.client(attempts=3).manifest_digest("present")


def test_timeout_is_retried_then_reported():
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    try:
        client = Registry(parse_image_name(f"127.0.0.1:{silent.getsockname()[1]}/a"), timeout=0.2, attempts=2,
                          backoff=0.01)
        with pytest.raises(RegistryError, match="no answer within 0.2 s"):
            client.manifest_digest("x")
    finally:
        silent.close()


def test_scheme_https_unless_loopback_or_insecure():
    assert Registry(parse_image_name("ghcr.io/acme/api")).base == "https://ghcr.io"
    assert Registry(parse_image_name("acme/api")).base == "https://registry-1.docker.io"
    assert Registry(parse_image_name("localhost:5000/api")).base == "http://localhost:5000"
    assert Registry(parse_image_name("reg.lan:5000/api"), insecure=True).base == "http://reg.lan:5000"


@pytest.mark.parametrize("name, host, repo", [
    ("ghcr.io/acme/api", "ghcr.io", "acme/api"),
    ("python", "registry-1.docker.io", "library/python"),
    ("docker.io/acme/api", "registry-1.docker.io", "acme/api"),
    ("localhost:5000/a/b", "localhost:5000", "a/b"),
])
def test_image_names(name, host, repo):
    parsed = parse_image_name(name)
    assert (parsed.host, parsed.repository) == (host, repo)


@pytest.mark.parametrize("bad", ["ghcr.io/acme/api:latest", "acme/api@sha256:00", "ghcr.io/Acme/API"])
def test_bad_image_names(bad):
    with pytest.raises(InputError):
        parse_image_name(bad)


def test_credentials_never_shown():
    assert "hunter2" not in repr(Credentials("bot", "hunter2"))
