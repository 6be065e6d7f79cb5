"""Per-shard checkpoints in S3.

One JSON object per shard at ``<checkpoint prefix><job>/shard-<i>-of-<n>.json``,
replaced whole by each PUT (S3 PUTs are atomic: a reader sees the old or the new
checkpoint, never a mix). It records, per input object of the shard: the ETag it
was read at, the byte offset and line number of the last safe point, the good and
bad record counts, the output and dead-letter parts written so far, and the
task's state, and a SHA-256 digest of all of that. A checkpoint that does not
parse, whose digest does not match (damaged or edited), or that belongs to
another job, shard layout, task or format version, is ignored (the shard starts
over; the part names are deterministic, so nothing is duplicated).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = 2


@dataclass
class ObjectProgress:
    index: int
    key: str
    etag: str
    size: int
    offset: int = 0
    lines: int = 0
    records: int = 0
    bad: int = 0
    parts: list[str] = field(default_factory=list)
    deadletters: list[str] = field(default_factory=list)
    state: Any = None
    done: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ObjectProgress:
        prog = cls(
            **_typed(raw, ("index", "size", "offset", "lines", "records", "bad"), ("key", "etag")),
            parts=[_str(p) for p in raw["parts"]],
            deadletters=[_str(p) for p in raw["deadletters"]],
            state=raw["state"],
            done=bool(raw["done"]),
        )
        if prog.offset > prog.size:
            raise ValueError("offset beyond object size")
        if prog.done and (prog.offset != prog.size or prog.state is not None):
            raise ValueError("a done object must be read to its end and have no state")
        if prog.lines > prog.offset or prog.records + prog.bad > prog.lines:
            raise ValueError("more lines or records than bytes read")
        return prog


@dataclass
class ShardCheckpoint:
    job_id: str
    shard: int
    shards: int
    task: str
    seq: int = 0
    objects: dict[int, ObjectProgress] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "job_id": self.job_id,
            "shard": self.shard,
            "shards": self.shards,
            "task": self.task,
            "seq": self.seq,
            "objects": [asdict(o) for _, o in sorted(self.objects.items())],
        }
        body["digest"] = _digest(body)
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ShardCheckpoint:
        """Parse a checkpoint; raises ValueError (with the reason) if it is unusable.

        Whatever ``data`` holds, the only exception is ValueError.
        """
        try:
            return cls._parse(data)
        except ValueError:
            raise
        except Exception as exc:  # KeyError, TypeError, RecursionError, ...: all unusable
            raise ValueError(f"malformed checkpoint: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _parse(cls, data: bytes) -> ShardCheckpoint:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT}")
        digest = raw.pop("digest", None)
        if digest != _digest(raw):
            raise ValueError("digest does not match the content (damaged or edited)")
        ckpt = cls(**_typed(raw, ("shard", "shards", "seq"), ("job_id", "task")))
        for item in raw["objects"]:
            prog = ObjectProgress.from_dict(item)
            if prog.index in ckpt.objects:
                raise ValueError(f"object index {prog.index} twice")
            ckpt.objects[prog.index] = prog
        return ckpt

    def totals(self) -> dict[str, int]:
        objs = self.objects.values()
        return {
            "objects_done": sum(1 for o in objs if o.done),
            "lines": sum(o.lines for o in objs),
            "records": sum(o.records for o in objs),
            "bad": sum(o.bad for o in objs),
            "bytes": sum(o.offset for o in objs),
        }


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _typed(raw: dict[str, Any], ints: tuple[str, ...], strs: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of ``raw``, checked: non-negative integers and strings."""
    return {**{k: _int(raw[k]) for k in ints}, **{k: _str(raw[k]) for k in strs}}


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {value!r}")
    return value
