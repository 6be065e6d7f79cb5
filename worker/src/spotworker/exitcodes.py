"""The exit-code contract shared with the job definition's RetryStrategy.

This module is the only place the numbers are spelled. The job definition
(``WorkerJobDefinition`` in build/cloudformation.yaml, see docs/CONTRACT.md)
retries exactly :data:`RETRYABLE` and exits on everything else; a test compares
the two.
"""

from __future__ import annotations

SUCCESS = 0
#: Bad configuration (an environment variable): one line on stderr, nothing written.
USAGE = 2
#: More bad records than CFGEN_MAX_BAD_RATIO allows (sysexits EX_DATAERR).
DATA_ERROR = 65
#: Input prefix empty, manifest or listed object missing, bucket missing (EX_NOINPUT).
NO_INPUT = 66
#: An unexpected error (a bug or an S3 error we do not know): not retried (EX_SOFTWARE).
SOFTWARE = 70
#: Throttling, 5xx, connection resets after botocore's own retries (EX_TEMPFAIL).
TRANSIENT = 75
#: Access denied by IAM or a bucket policy (EX_NOPERM).
NO_PERMISSION = 77
#: Stopped by SIGTERM (Spot reclaim, scale-in) or a Spot interruption notice: 128 + 15.
INTERRUPTED = 143

#: Exit codes the RetryStrategy must retry; every other non-zero code must EXIT.
RETRYABLE: frozenset[int] = frozenset({TRANSIENT, INTERRUPTED})
#: Non-zero exit codes the worker itself uses that must NOT be retried.
PERMANENT: frozenset[int] = frozenset({USAGE, DATA_ERROR, NO_INPUT, SOFTWARE, NO_PERMISSION})
