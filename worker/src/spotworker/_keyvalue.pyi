# The C extension's interface (src/spotworker/_keyvalue.c).
def extract(
    data: bytes, key_field: bytes, value_field: bytes, max_value_len: int, /
) -> tuple[bytes, bytes, bytes, bytes, int] | None: ...
