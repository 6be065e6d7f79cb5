"""A content-addressed cache of rendered templates.

Rendering is a pure function of its inputs: cfgen's own source, the profile and
defaults TOML files, the versions of troposphere, awacs and PyYAML, the Python
version and the output format. The key is a SHA-256 over all of them, so any
change to any input is a different key; nothing is ever invalidated by time.
A hit skips importing troposphere and awacs, which is most of a render's cost.

Entries live in ``$CFGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/cfgen``, else
``~/.cache/cfgen``. Each holds the SHA-256 of its text on its first line and is
ignored unless that matches (a damaged entry costs one render, never wrong
output). Writes go through a temp file and a rename. A cache that cannot be
used (a file where the folder should be, no permission, a full disk) never stops
a render: the command renders without it and prints a one-line warning.
``CFGEN_NO_CACHE=1`` turns it off. Only the command line uses it: the library
(``cfgen.render``) always renders.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
#: Libraries whose code shapes the output; their installed files fingerprint them.
#: (cfn_flip is not among them: cfgen never calls it, it dumps with PyYAML.)
_LIBRARIES = ("troposphere", "awacs", "yaml")


class CacheUnusable(OSError):  # noqa: N818 - an OSError, named for what it means
    """The cache folder cannot be written; the caller warns and renders anyway."""


def enabled() -> bool:
    return os.environ.get("CFGEN_NO_CACHE", "") not in ("1", "true", "yes")


def cache_dir() -> Path:
    explicit = os.environ.get("CFGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfgen"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _profile_path(name_or_path: str, templates: Path) -> Path | None:
    """The profile file, resolved as cfgen.config would; None where unsure."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        return Path(name_or_path)
    if _NAME.match(name_or_path) and name_or_path != "defaults":
        return templates / f"{name_or_path}.toml"
    return None


def source_files(root: Path) -> list[Path]:
    """Every file of cfgen's package (all modules and data), sorted; no bytecode."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def key_for(name_or_path: str, fmt: str, *, root: Path | None = None) -> str | None:
    """The cache key of a render, or None if an input cannot be read.

    ``root`` is cfgen's package folder (default: the installed one); every
    file under it is part of the key, so a change to any module misses.
    """
    try:
        own = root or _package_dir("cfgen")
        templates = _package_dir("cfgen.templates")
        if own is None or templates is None:
            return None
        profile = _profile_path(name_or_path, templates)
        if profile is None:
            return None
        h = hashlib.sha256()
        # The argument as given, too: the header names the profile's source as given.
        h.update(f"{sys.version_info[:3]}|{fmt}|{name_or_path}|{profile.resolve()}\n".encode())
        for path in source_files(own):
            h.update(str(path.relative_to(own)).encode() + b"\0" + path.read_bytes() + b"\0")
        h.update(profile.read_bytes() + b"\0")
        h.update((templates / "defaults.toml").read_bytes() + b"\0")
        for lib in _LIBRARIES:
            spec = importlib.util.find_spec(lib)
            origin = spec.origin if spec else None
            if not origin:
                return None
            st = Path(origin).stat()
            h.update(f"{lib}|{origin}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    except (OSError, ValueError):
        return None


def get(key: str) -> str | None:
    """The cached text, or None (missing, damaged or unreadable: render instead)."""
    try:
        data = (cache_dir() / f"{key}.txt").read_bytes()
    except OSError:
        return None
    digest, _, body = data.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - digest matched, so unreachable
        return None


def put(key: str, text: str) -> None:
    """Store a render; raise CacheUnusable (one line) if the folder cannot be used."""
    body = text.encode("utf-8")
    folder = cache_dir()
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
        tmp.replace(folder / f"{key}.txt")
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise CacheUnusable(
            f"render cache {str(folder)!r} not usable ({err.strerror or err});"
            " rendered without it (CFGEN_CACHE_DIR moves it, CFGEN_NO_CACHE=1 turns it off)"
        ) from None
