"""Talking to one repository on a registry over the OCI distribution API: does a manifest or blob exist, read
them, upload blobs, mount them across repositories, put manifests; plus the token dance the registry asks
for (anonymous, Basic, or Bearer as ghcr.io and Docker Hub do). A write succeeds only on the status the spec
names for it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import BinaryIO, Iterator

import requests

from depimage.errors import DepimageError, opt
from depimage.oci.credentials import Credentials, basic_auth
from depimage.oci.digest import sha256_digest
from depimage.oci.media import MANIFEST_TYPES
from depimage.oci.reference import ImageName, check_reference

_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")


class RegistryError(DepimageError):
    """The registry could not be reached or refused us."""


class NotFound(RegistryError):
    """What was to be read is not there: a name or tag the user gave that names nothing (exit code 2)."""

    exit_code = 2


class RegistryUnavailable(RegistryError):
    """The registry did not answer at all (refused connection, no name, timeouts, 5xx to the end)."""


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

    def manifest_digest(self, reference: str) -> str | None:
        """The digest of NAME:reference, or None when the registry does not have it. A registry that sends no
        Docker-Content-Digest header (the spec makes it optional) is asked for the manifest itself."""
        url = f"{self.base}/v2/{self.image.repository}/manifests/{check_reference(reference)}"
        response = self._authorized("HEAD", url)
        if not self._expect(response, (200,), f"the manifest of {self.image.ref(reference)}", missing=True):
            return None
        return response.headers.get("Docker-Content-Digest") or self.get_manifest(reference)[2]

    # ---- what `app` needs: read a manifest and a config, put blobs and manifests (OCI distribution spec) ----

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of NAME:reference, a tag or a digest."""
        url = f"{self.base}/v2/{self.image.repository}/manifests/{check_reference(reference)}"
        response = self._authorized("GET", url)
        self._expect(response, (200,), f"the image {self.image.ref(reference)}")
        digest = response.headers.get("Docker-Content-Digest") or sha256_digest(response.content)
        return response.content, response.headers.get("Content-Type", "").split(";")[0], digest

    def get_blob(self, digest: str) -> bytes:
        response = self._authorized("GET", f"{self.base}/v2/{self.image.repository}/blobs/{check_reference(digest)}")
        self._expect(response, (200,), f"blob {digest} of {self.image.name}")
        return response.content

    def stream_blob(self, digest: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        """A blob in chunks, for reading a large layer without holding it."""
        response = self._authorized("GET", f"{self.base}/v2/{self.image.repository}/blobs/{check_reference(digest)}",
                                    stream=True)
        self._expect(response, (200,), f"blob {digest} of {self.image.name}")
        try:
            yield from response.iter_content(chunk)
        except requests.RequestException as exc:
            raise RegistryError(f"the download of blob {digest} from {self.image.host} broke off: {exc}") from exc
        finally:
            response.close()

    def list_tags(self) -> list[str]:
        """Every tag of the repository, page after page (the spec's `n` and Link header); [] for none."""
        url: str | None = f"{self.base}/v2/{self.image.repository}/tags/list?n=1000"
        tags: list[str] = []
        while url:
            response = self._authorized("GET", url)
            if not self._expect(response, (200,), f"the tags of {self.image.name}", missing=True):
                return tags
            tags += response.json().get("tags") or []
            link = re.search(r"<([^>]+)>\s*;\s*rel=\"?next", response.headers.get("Link", ""))
            url = (link[1] if link[1].startswith("http") else self.base + link[1]) if link else None
        return tags

    def has_blob(self, digest: str) -> bool:
        response = self._authorized("HEAD", f"{self.base}/v2/{self.image.repository}/blobs/{check_reference(digest)}")
        return self._expect(response, (200,), f"blob {digest} of {self.image.name}", missing=True)

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Link a blob of another repository on the same registry into this one, without moving its bytes.
        False when the registry does not: it then answers 202 and opens an upload, which is left to expire."""
        url = f"{self.base}/v2/{self.image.repository}/blobs/uploads/"
        response = self._authorized("POST", url, params={"mount": check_reference(digest), "from": from_repository},
                                    scopes=[f"repository:{from_repository}:pull"])
        self._expect(response, (201, 202), f"mounting {digest} into {self.image.name}")
        return response.status_code == 201

    def push_blob(self, data: bytes | Path, digest: str) -> None:
        """A monolithic upload: POST for a location, PUT the bytes there with their digest. A file is streamed
        from disk in chunks, never read whole."""
        check_reference(digest)
        if isinstance(data, Path):
            with data.open("rb") as fh:
                return self._put_blob(fh, data.stat().st_size, digest)
        return self._put_blob(data, len(data), digest)

    def _put_blob(self, data: bytes | BinaryIO, size: int, digest: str) -> None:
        start = self._authorized("POST", f"{self.base}/v2/{self.image.repository}/blobs/uploads/")
        self._expect(start, (202,), f"starting an upload to {self.image.name}")
        location = start.headers.get("Location", "")
        if location.startswith("/"):
            location = self.base + location
        response = self._authorized("PUT", location, params={"digest": digest}, data=data,
                                    headers={"Content-Type": "application/octet-stream",
                                             "Content-Length": str(size)},
                                    timeout=(self.timeout, max(self.timeout, 120.0)))  # it checks a large blob's digest
        self._expect(response, (201,), f"the upload of {digest} to {self.image.name}")

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        """Store a manifest (or index) under a tag or its digest; its digest back."""
        url = f"{self.base}/v2/{self.image.repository}/manifests/{check_reference(reference)}"
        response = self._authorized("PUT", url, data=body, headers={"Content-Type": media_type})
        self._expect(response, (201,), f"the manifest {self.image.ref(reference)}")
        return sha256_digest(body)

    def put_referrer(self, digest: str, body: bytes, media_type: str) -> bool:
        """Store a manifest that has a subject, by its digest; True when the registry indexes it for the referrers
        API (it answers with OCI-Subject), False when the client must keep the referrers tag itself."""
        url = f"{self.base}/v2/{self.image.repository}/manifests/{check_reference(digest)}"
        response = self._authorized("PUT", url, data=body, headers={"Content-Type": media_type})
        self._expect(response, (201,), f"the referrer {digest} in {self.image.name}")
        return bool(response.headers.get("OCI-Subject"))

    def _authorized(self, method: str, url: str, scopes: list[str] | None = None, **kwargs) -> requests.Response:
        """A request, and once more after answering the registry's 401 challenge."""
        response = self._request(method, url, **kwargs)
        if response.status_code == 401 and self._authenticate(response, scopes or []):
            response = self._request(method, url, **kwargs)
        return response

    def _expect(self, response: requests.Response, ok: tuple[int, ...], what: str, *, missing: bool = False) -> bool:
        """True for the status the distribution spec names for success (`ok`); False for a 404 only where
        the question was whether something exists (`missing`); a RegistryError naming what was refused, the
        status and the registry's error codes for anything else. A write is never taken as done on a 404."""
        if response.status_code in ok:
            return True
        if response.status_code == 404 and missing:
            return False
        if response.status_code in (401, 403):
            raise self._refused(response)
        said = _registry_message(response)
        status = f"HTTP {response.status_code}" + (f" ({said})" if said else "")
        if response.request is not None and response.request.method in ("GET", "HEAD"):  # a read, not a write
            if response.status_code == 404:
                raise NotFound(f"{what} does not exist on {self.image.host}: {status}",
                               hint="check the name and the tag or digest")
            raise RegistryError(f"{self.image.host} did not give {what}: {status}",
                                hint="the registry's answer above says why")
        raise RegistryError(f"{self.image.host} did not accept {what}: {status}",
                            hint="nothing was tagged; the registry's answer above says why")

    def _request(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, retried with backoff on timeouts, refused connections, 429 and 5xx."""
        headers = {"Accept": MANIFEST_TYPES, **kwargs.pop("headers", {})}
        timeout = kwargs.pop("timeout", self.timeout)
        if self._auth_header and "auth" not in kwargs:
            headers["Authorization"] = self._auth_header
        last: str = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            if hasattr(kwargs.get("data"), "seek"):
                kwargs["data"].seek(0)  # a file body is sent again from its start
            try:
                response = self.session.request(method, url, headers=headers, timeout=timeout,
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
        raise RegistryUnavailable(f"registry {self.base} is unavailable: {last} (tried {self.attempts} times)",
                            hint="check that the registry is up and the name is right; a plain-http registry "
                                 f"that is not on localhost needs {opt('insecure_registry')}")

    def _authenticate(self, challenge: requests.Response, scopes: list[str] = ()) -> bool:
        """Answer a 401 challenge; True when there is now something new to try."""
        header = challenge.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = header.partition(" ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        if scheme.lower() == "basic":
            if not self.credentials or self._auth_header:
                return False
            self._auth_header = f"Basic {basic_auth(self.credentials)}"
            return True
        if scheme.lower() == "bearer" and "realm" in params:
            wanted = (params.get("scope") or f"repository:{self.image.repository}:pull").split(" ") + list(scopes)
            query = {"service": params.get("service", ""), "scope": list(dict.fromkeys(wanted))}
            auth = (self.credentials.username, self.credentials.password) if self.credentials else None
            response = self._request("GET", params["realm"], params=query, auth=auth,
                                     headers={"Accept": "application/json"})
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
    return said or None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for known in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if known in text:
            return known
    return text.splitlines()[0][:200] if text else type(exc).__name__
