"""A token service for Distribution's `auth: token`, the Bearer scheme that ghcr.io, Docker Hub and most hosted
registries use: a client is answered 401 with a realm and a scope, asks the realm for a token for the scopes it
needs, and presents it. The token is a JWT (RS256) signed with the sandbox's key, whose self-signed
certificate is in the header (x5c) and in the registry's rootcertbundle.

    python3 tests/tokenserver.py --port P --key key.pem --cert cert.pem --users htpasswd-like-file --log FILE

Users (one `name:password` a line) get what they ask for, pull and push on any repository; anonymous clients
get nothing, a wrong password is 401. Every grant is appended to the log as a JSON line (account, scopes), so
a test can see which scopes a client asked for together. Signing uses the openssl command: no Python packages."""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ISSUER = "depimage-test-issuer"
SERVICE = "depimage-test-registry"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(key: str, data: bytes) -> bytes:
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data, capture_output=True,
                          check=True).stdout


def grants(scopes: list[str]) -> list[dict]:
    """repository:NAME:ACTIONS scopes as the token's access claim (pull and push only; no delete). A repository
    whose last part starts with `denied` is granted nothing, as a ghcr.io package is to a repository it has not
    given access."""
    access = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository" and name:
            allowed = [] if name.rsplit("/", 1)[-1].startswith("denied") else \
                [a for a in actions.split(",") if a in ("pull", "push")]
            access.append({"type": kind, "name": name, "actions": allowed})
    return access


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--port", "--key", "--cert", "--users", "--log"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    users = dict(line.split(":", 1) for line in open(args.users).read().split())
    der = subprocess.run(["openssl", "x509", "-in", args.cert, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    header = b64(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}).encode())
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            account = ""
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                account, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                if users.get(account) != password:
                    return self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
            scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
            access = grants(scopes) if account else []
            now = int(time.time())
            claims = {"iss": ISSUER, "sub": account, "aud": query.get("service", [SERVICE])[0], "exp": now + 300,
                      "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
            signing_input = f"{header}.{b64(json.dumps(claims).encode())}".encode()
            token = f"{signing_input.decode()}.{b64(sign(args.key, signing_input))}"
            with lock, open(args.log, "a") as fh:
                fh.write(json.dumps({"account": account, "scopes": scopes}) + "\n")
            self._answer(200, {"token": token, "access_token": token, "expires_in": 300})

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer(("127.0.0.1", int(args.port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
