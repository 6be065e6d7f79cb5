"""Error classes and the one mapping from S3/botocore failures to exit codes.

Every way an S3 call can fail lands in one of four classes: transient (75, the
RetryStrategy retries it), missing input (66), access denied (77) or
configuration (2). Only an error of our own code is 70.

How a cut connection surfaces (measured with botocore 1.44 and urllib3 1.26, see
docs/aws-facts.d/worker-faults.md): a reset while reading a body is
``ResponseStreamingError`` (urllib3 ``ProtocolError``); a body cut short by a
clean close (FIN) is ``IncompleteReadError`` (botocore's content-length check)
or ``ResponseStreamingError`` (urllib3's ``IncompleteRead``); a stall past the
read timeout is ``ReadTimeoutError``; a connection that closes before the
response is ``ConnectionClosedError``. All are subclasses of
``HTTPClientError`` / ``ConnectionError`` or listed below.
"""

from __future__ import annotations

import errno
import http.client
import os

from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    CredentialRetrievalError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    MetadataRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
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


#: Scratch errors another attempt (another host, another disk) may not meet.
_STORAGE_TRANSIENT = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
#: Scratch errors that mean TMPDIR itself is wrong (not a directory, not writable).
_STORAGE_CONFIG = frozenset(
    {errno.ENOTDIR, errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EEXIST}
)


def storage_error(exc: OSError, where: str) -> WorkerError | None:
    """The WorkerError for a failure of local scratch, or None if it is not one we know."""
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in _STORAGE_TRANSIENT:
        return DiskFullError(f"scratch {where}: {why}")
    if exc.errno in _STORAGE_CONFIG:
        return ConfigError(f"TMPDIR={where!r}: {why} (must be a writable directory)")
    return None


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

# Failures of the connection itself (also while streaming a body): every one is
# transient. HTTPClientError covers ConnectionClosedError, ReadTimeoutError and
# ResponseStreamingError; botocore's ConnectionError covers EndpointConnectionError,
# ConnectTimeoutError and ProxyConnectionError. A checksum mismatch is a body
# damaged in flight. The credential errors are the container credentials
# endpoint (the task role) not answering, which the next attempt retries.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    HTTPClientError,
    BotoConnectionError,
    IncompleteReadError,
    ChecksumError,
    FlexibleChecksumError,
    CredentialRetrievalError,
    MetadataRetrievalError,
    Urllib3HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)
#: botocore errors that mean the environment is wrong (no credentials, no region).
_CONFIG_ERRORS: tuple[type[BaseException], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
)

#: Everything an S3 call can raise that :func:`classify` understands.
S3_ERRORS: tuple[type[BaseException], ...] = (ClientError, *NETWORK_ERRORS, *_CONFIG_ERRORS)


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
    if isinstance(exc, _CONFIG_ERRORS):
        return ConfigError(f"AWS configuration: {what}: {exc}")
    if isinstance(exc, BotoCoreError):
        return WorkerError(f"{what}: {type(exc).__name__}")
    return WorkerError(f"{what}: {type(exc).__name__}: {exc}")
