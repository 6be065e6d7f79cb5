"""Values the rules cannot decide (UNKNOWN) and small accessors of template values."""

from __future__ import annotations

from typing import Any


class _Unknown:
    """A value the rules cannot decide (intrinsic function, parameter without default)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


def scalar(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    return UNKNOWN


def get_att(value: Any) -> tuple[str, str] | None:
    """(logical ID, attribute) of a ``Fn::GetAtt``, attribute "" if missing; else None."""
    if not isinstance(value, dict) or len(value) != 1 or "Fn::GetAtt" not in value:
        return None
    att = value["Fn::GetAtt"]
    if isinstance(att, str):
        lid, _, name = att.partition(".")
        return lid, name
    if isinstance(att, list) and att and isinstance(att[0], str):
        name = att[1] if len(att) > 1 and isinstance(att[1], str) else ""
        return att[0], name
    return None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
