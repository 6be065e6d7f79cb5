"""Error classes and the one mapping from S3/botocore failures to exit codes."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError  # type: ignore[import-untyped,unused-ignore]

from spotworker import exitcodes


class WorkerError(Exception):
    """An error that ends the run with a specific exit code."""

    exit_code = exitcodes.SOFTWARE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class TransientError(WorkerError):
    exit_code = exitcodes.TRANSIENT


class MissingInputError(WorkerError):
    exit_code = exitcodes.NO_INPUT


class AccessDeniedError(WorkerError):
    exit_code = exitcodes.NO_PERMISSION


class ConfigError(WorkerError):
    exit_code = exitcodes.USAGE


class DiskFullError(TransientError):
    """Scratch space ran out: another attempt (another host) may have room."""


_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ExpiredToken",
        "RequestTimeTooSkewed",
        "OperationAborted",
        "ConditionalRequestConflict",
    }
)
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "403",
        "Forbidden",
    }
)

# Failures of the connection itself (also while streaming a body).
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionClosedError,
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ResponseStreamingError,
    Urllib3HTTPError,
    ConnectionError,
)

#: Everything an S3 call can raise that :func:`classify` understands.
S3_ERRORS: tuple[type[BaseException], ...] = (ClientError, *NETWORK_ERRORS)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def classify(exc: BaseException, what: str) -> WorkerError:
    """Turn a botocore/urllib3 failure into the WorkerError that fixes the exit code.

    ``what`` names the object or operation for the log line (never credentials).
    """
    if isinstance(exc, WorkerError):
        return exc
    if isinstance(exc, ClientError):
        code, status = error_code(exc), http_status(exc)
        msg = f"{what}: {code or status}"
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientError(msg)
        if code in _MISSING_CODES or status == 404:
            return MissingInputError(msg)
        if code in _DENIED_CODES or status == 403:
            return AccessDeniedError(msg)
        return WorkerError(msg)
    if isinstance(exc, NETWORK_ERRORS):
        return TransientError(f"{what}: {type(exc).__name__}")
    if isinstance(exc, BotoCoreError):
        return WorkerError(f"{what}: {type(exc).__name__}")
    return WorkerError(f"{what}: {type(exc).__name__}: {exc}")
