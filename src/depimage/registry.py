"""Talking to the registry: does REGISTRY/NAME:TAG exist? One HEAD request on the OCI distribution API,
plus the token dance the registry asks for (anonymous, Basic, or Bearer as ghcr.io and Docker Hub do)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .errors import DepimageError, InputError

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
DOCKER_HUB = "registry-1.docker.io"
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


class RegistryError(DepimageError):
    """The registry could not be reached or refused us."""


@dataclass(frozen=True)
class ImageName:
    """REGISTRY/NAME as the user wrote it, and where its API lives."""

    name: str  # as docker takes it, without tag: ghcr.io/acme/api, localhost:5000/api, acme/api
    host: str  # API host: ghcr.io, registry-1.docker.io, 127.0.0.1:5000
    repository: str  # path on that host: acme/api, library/python

    def ref(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    @property
    def auth_host(self) -> str:
        """The key docker's config.json files credentials under."""
        return "https://index.docker.io/v1/" if self.host == DOCKER_HUB else self.host


def parse_image_name(value: str) -> ImageName:
    """Split REGISTRY/NAME; names without a registry part are Docker Hub's, single ones under library/."""
    if "@" in value or re.search(r":[^/]*$", value.split("/", 1)[-1] if "/" in value else value):
        raise InputError(f"--image {value!r} has a tag or digest", hint="give REGISTRY/NAME only; depimage picks the tag")
    first, _, rest = value.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, rest
    else:
        host, repo = DOCKER_HUB, value
        if value.startswith("docker.io/"):
            repo = value[len("docker.io/"):]
        if "/" not in repo:
            repo = f"library/{repo}"
    if host in ("docker.io", "index.docker.io"):
        host = DOCKER_HUB
    if not _REPO.match(repo):
        raise InputError(f"--image {value!r}: {repo!r} is not a valid repository name",
                         hint="lowercase letters, digits, and . _ - separators, e.g. ghcr.io/acme/api")
    return ImageName(name=value, host=host, repository=repo)


def parse_image_ref(value: str) -> tuple[ImageName, str]:
    """REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:... as (name, tag or digest)."""
    if "@" in value:
        name, _, reference = value.partition("@")
    else:
        slash = value.rfind("/")
        colon = value.rfind(":")
        if colon <= slash:
            raise InputError(f"{value!r} names no tag or digest", hint="give REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:...")
        name, reference = value[:colon], value[colon + 1:]
    return parse_image_name(name), reference


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


def docker_config_credentials(image: ImageName) -> Credentials | None:
    """What `docker login` stored for this registry (config.json auths, or a credential helper)."""
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    key = image.auth_host
    helper = config.get("credHelpers", {}).get(key) or config.get("credsStore")
    if helper:
        try:
            out = subprocess.run([f"docker-credential-{helper}", "get"], input=key, capture_output=True,
                                 text=True, timeout=20, check=True).stdout
            data = json.loads(out)
            return Credentials(data["Username"], data["Secret"])
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            pass
    entry = config.get("auths", {}).get(key) or config.get("auths", {}).get(f"https://{key}")
    if entry and entry.get("auth"):
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        return Credentials(user, password)
    return None


class Registry:
    """A client for one repository on one registry, reusing its connection and token."""

    def __init__(self, image: ImageName, credentials: Credentials | None = None, *, insecure: bool = False,
                 timeout: float = 10.0, attempts: int = 4, backoff: float = 0.5) -> None:
        self.image = image
        self.credentials = credentials
        scheme = "http" if insecure or _LOOPBACK.match(image.host) else "https"
        self.base = f"{scheme}://{image.host}"
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.session = requests.Session()
        self._auth_header: str | None = None

    def manifest_digest(self, tag: str) -> str | None:
        """The digest of NAME:tag, or None when the registry does not have it."""
        url = f"{self.base}/v2/{self.image.repository}/manifests/{tag}"
        response = self._authorized("HEAD", url)
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise self._refused(response)
        if response.status_code != 200:
            raise RegistryError(f"{self.image.host} answered {response.status_code} for {self.image.ref(tag)}")
        return response.headers.get("Docker-Content-Digest") or "unknown"

    # ---- what `app` needs: read a manifest and a config, put blobs and manifests (OCI distribution spec) ----

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of NAME:reference, a tag or a digest."""
        response = self._authorized("GET", f"{self.base}/v2/{self.image.repository}/manifests/{reference}")
        self._check(response, f"the manifest of {self.image.ref(reference)}", missing_ok=False)
        digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(response.content).hexdigest()
        return response.content, response.headers.get("Content-Type", "").split(";")[0], digest

    def get_blob(self, digest: str) -> bytes:
        response = self._authorized("GET", f"{self.base}/v2/{self.image.repository}/blobs/{digest}")
        self._check(response, f"blob {digest} of {self.image.name}", missing_ok=False)
        return response.content

    def has_blob(self, digest: str) -> bool:
        response = self._authorized("HEAD", f"{self.base}/v2/{self.image.repository}/blobs/{digest}")
        return self._check(response, f"blob {digest} of {self.image.name}")

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Link a blob of another repository on the same registry into this one, without moving its bytes.
        False when the registry does not (it then opened an upload, which is left to expire)."""
        url = f"{self.base}/v2/{self.image.repository}/blobs/uploads/"
        response = self._authorized("POST", url, params={"mount": digest, "from": from_repository},
                                    scopes=[f"repository:{from_repository}:pull"])
        self._check(response, f"mounting {digest} into {self.image.name}")
        return response.status_code == 201

    def push_blob(self, data: bytes, digest: str) -> None:
        """A monolithic upload: POST for a location, PUT the bytes there with their digest."""
        start = self._authorized("POST", f"{self.base}/v2/{self.image.repository}/blobs/uploads/")
        self._check(start, f"starting an upload to {self.image.name}")
        location = start.headers.get("Location", "")
        if location.startswith("/"):
            location = self.base + location
        response = self._authorized("PUT", location, params={"digest": digest}, data=data,
                                    headers={"Content-Type": "application/octet-stream"})
        self._check(response, f"uploading {digest} to {self.image.name}")

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        """Store a manifest (or index) under a tag or its digest; its digest back."""
        response = self._authorized("PUT", f"{self.base}/v2/{self.image.repository}/manifests/{reference}",
                                    data=body, headers={"Content-Type": media_type})
        self._check(response, f"the manifest of {self.image.ref(reference)}")
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def _authorized(self, method: str, url: str, scopes: list[str] | None = None, **kwargs) -> requests.Response:
        """A request, and once more after answering the registry's 401 challenge."""
        response = self._request(method, url, **kwargs)
        if response.status_code == 401 and self._authenticate(response, scopes or []):
            response = self._request(method, url, **kwargs)
        return response

    def _check(self, response: requests.Response, what: str, missing_ok: bool = True) -> bool:
        """True for 2xx, False for a 404 where that is an answer; a RegistryError for the rest."""
        if response.status_code < 300:
            return True
        if response.status_code == 404 and missing_ok:
            return False
        if response.status_code in (401, 403):
            raise self._refused(response)
        raise RegistryError(f"{self.image.host} answered {response.status_code} for {what}",
                            hint=_registry_message(response))

    def _request(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, retried with backoff on timeouts, refused connections, 429 and 5xx."""
        headers = {"Accept": MANIFEST_TYPES, **kwargs.pop("headers", {})}
        if self._auth_header and "auth" not in kwargs:
            headers["Authorization"] = self._auth_header
        last: str = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                                allow_redirects=True, **kwargs)
            except requests.ConnectionError as exc:
                last = f"cannot connect: {_reason(exc)}"
                continue
            except requests.Timeout:
                last = f"no answer within {self.timeout:g} s"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit() and attempt + 1 < self.attempts:
                    time.sleep(min(int(retry_after), 10))
                continue
            return response
        raise RegistryError(f"registry {self.base} is unavailable: {last} (tried {self.attempts} times)",
                            hint="check that the registry is up and the name is right; a plain-http registry "
                                 "that is not on localhost needs --insecure-registry")

    def _authenticate(self, challenge: requests.Response, scopes: list[str] = ()) -> bool:
        """Answer a 401 challenge; True when there is now something new to try."""
        header = challenge.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = header.partition(" ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        if scheme.lower() == "basic":
            if not self.credentials or self._auth_header:
                return False
            token = base64.b64encode(f"{self.credentials.username}:{self.credentials.password}".encode()).decode()
            self._auth_header = f"Basic {token}"
            return True
        if scheme.lower() == "bearer" and "realm" in params:
            wanted = (params.get("scope") or f"repository:{self.image.repository}:pull").split(" ") + list(scopes)
            query = {"service": params.get("service", ""), "scope": list(dict.fromkeys(wanted))}
            auth = (self.credentials.username, self.credentials.password) if self.credentials else None
            response = self._request("GET", params["realm"], params=query, auth=auth, headers={"Accept": "application/json"})
            if response.status_code != 200:
                raise self._refused(response)
            body = response.json()
            token = body.get("token") or body.get("access_token")
            if not token:
                raise RegistryError(f"the token service of {self.image.host} gave no token")
            self._auth_header = f"Bearer {token}"
            return True
        return False

    def _refused(self, response: requests.Response) -> RegistryError:
        who = f"user {self.credentials.username!r}" if self.credentials else "anonymous access"
        return RegistryError(
            f"{self.image.host} refused {who} for {self.image.repository} (HTTP {response.status_code})",
            hint="check the registry username and password (for ghcr.io: a token with read:packages and "
                 "write:packages; in the action, registry-password: ${{ github.token }} and permissions "
                 "packages: write)")


def _registry_message(response: requests.Response) -> str | None:
    """The registry's own words from an error body ({"errors": [{"code", "message"}]}), if any."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return None
    said = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors if isinstance(e, dict))
    return f"the registry says {said}" if said else None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for known in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if known in text:
            return known
    return text.splitlines()[0][:200] if text else type(exc).__name__
