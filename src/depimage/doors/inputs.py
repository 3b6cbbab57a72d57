"""What both doors read the same way: NAME=VALUE lists, secrets, and the host they run on. Each door names its
own flag or input in the `what` it passes, so an error says what the user wrote. Also how both write a line."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Mapping, TextIO

from depimage.errors import InputError
from depimage.image.runconfig import words
from depimage.usecases.common import Host, Secret


def pairs(items: list[str], what: str) -> tuple[tuple[str, str], ...]:
    """NAME=VALUE items."""
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"{what} {item!r} is not NAME=VALUE")
        out.append((name, value))
    return tuple(out)


def command_words(value: str | None, what: str) -> tuple[str, ...] | None:
    """A command or entrypoint as both doors take it: a JSON list (`["api", "--port", "8000"]`, `[]` to clear the
    base's), or words split as a shell would. None (not given) stays None."""
    if value is None:
        return None
    if value.strip().startswith("["):
        try:
            return words(json.loads(value), what)
        except ValueError:
            raise InputError(f"{what} {value!r} is not a JSON list of strings",
                             hint='write ["api", "--port", "8000"], [] for none, or words as a shell splits them') from None
    return words(value, what)


def secret_from_spec(spec: str, env: Mapping[str, str], *, need_value: bool, what: str) -> Secret:
    """ID[=ENV_OR_FILE] or buildx's id=ID,env=VAR / id=ID,src=FILE: the id, and the value from that variable or
    file (the variable ID itself by default). `hash` needs only the id, so the value is not looked up there."""
    if spec.startswith("id="):
        fields = dict(part.partition("=")[::2] for part in spec.split(","))
        sid = fields.get("id", "")
        from_file = fields.get("src") or fields.get("source")
        source, kind = (fields["env"], "env") if "env" in fields else (from_file, "src") if from_file else (sid, "env")
    else:
        sid, _, source = spec.partition("=")
        source, kind = source or sid, ""
    if not sid:
        raise InputError(f"{what} {spec!r} names no id", hint="write ID, ID=ENV_OR_FILE or id=ID,env=VAR")
    if not need_value:
        return Secret(sid)
    if kind in ("", "env") and env.get(source) is not None:
        return Secret(sid, env[source])
    if kind in ("", "src") and Path(source).is_file():
        return Secret(sid, Path(source).read_text(encoding="utf-8").rstrip("\n"))
    raise InputError(f"{what} {sid!r}: no environment variable or file named {source!r}",
                     hint="set the variable (e.g. from your CI's secret store) or name a file that holds the value")


def host_from(env: Mapping[str, str]) -> Host:
    """The environment as both doors hand it on: GitHub's variables name the source and revision."""
    source = ""
    if env.get("GITHUB_REPOSITORY"):
        source = f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}"
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "depimage"
    return Host(env=dict(env), source=source, revision=env.get("GITHUB_SHA", ""),
                build_network=env.get("DEPIMAGE_BUILD_NETWORK", ""), cache_dir=cache)


def docker_config_dir(env: Mapping[str, str]) -> Path:
    """Where `docker login` keeps credentials: $DOCKER_CONFIG, else ~/.docker."""
    return Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or os.path.expanduser("~")) / ".docker")


_WRITING = threading.Lock()


def say(text: str, stream: TextIO) -> None:
    """One whole line in one write, one writer at a time: status lines come from several threads at once (the
    platforms' pipelines, the pushes), and print() writes the text and its newline apart, so lines ran together."""
    with _WRITING:
        stream.write(text + "\n")
        stream.flush()
