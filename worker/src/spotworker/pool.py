"""All the job's vCPUs: the shard's objects processed by a pool of worker processes.

The parent (the harness of the shard) stays the only process that writes the
checkpoint and the commit marker, and the only one that logs (the children's
events come to it through a pipe). Each child takes one object at a time from
the parent, processes it exactly as the single-process harness does (the same
``Harness._process``: same batches, same part names, same dead letters) and,
at each of its safe points, uploads the parts and sends the object's progress
(offset, lines, counts, parts, task state) to the parent, which merges it into
the shard checkpoint and writes that. So the checkpoint only ever holds safe
points whose parts are in S3, per object, as before; which process did an
object changes nothing in the output (part names depend only on the object
version and the byte range).

Stop: the parent forwards its stop request (SIGTERM, Spot notice) to every
child as a message; each stops at its next safe point and reports; the parent
writes one checkpoint and exits 143. A child that fails reports its error;
the parent stops the others the same way, checkpoints what they flushed, and
exits with the child's exit code. A child that dies without a word (killed)
fails the attempt as transient (75); one ended by SIGTERM or SIGINT sent to
it directly stops the attempt like a SIGTERM to the parent. Children die with
the parent (Linux ``PR_SET_PDEATHSIG``, and a broken pipe at their next
message; in a container they die with PID 1 anyway), so a SIGKILLed attempt
leaves nothing running. Processes are started with
``spawn`` (no fork of a process that has threads).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from spotworker import errors
from spotworker.checkpoint import ObjectProgress
from spotworker.config import Config
from spotworker.errors import TransientError, WorkerError
from spotworker.harness import PROGRESS_SECONDS, Harness, Interrupted
from spotworker.interrupt import StopFlag
from spotworker.s3io import InputObject, make_client
from spotworker.tasks import load_task
from spotworker.vcpus import cpus_visible


class _Child:
    def __init__(self, number: int, process: Any, conn: Connection) -> None:
        self.number = number
        self.process = process
        self.conn = conn
        self.busy: int | None = None  # index of the object it works on
        self.running = True
        self.signalled = False


def run_pool(harness: Harness, todo: list[InputObject]) -> None:
    """Process ``todo`` with ``harness.processes`` children; the harness's checkpoint and
    stats are the sum of theirs. Raises Interrupted or the first child's error."""
    pool = _Pool(harness, todo)
    try:
        pool.start()
        while any(c.running for c in pool.children):
            pool.step()
    finally:
        pool.shutdown()
    if pool.failure is not None:
        raise pool.failure
    if harness.stop.requested:
        harness._write_checkpoint()
        raise Interrupted


class _Pool:
    def __init__(self, harness: Harness, todo: list[InputObject]) -> None:
        self.h = harness
        self.todo = todo
        self.queue = deque(todo)
        self.children: list[_Child] = []
        self.failure: WorkerError | None = None

    def start(self) -> None:
        h = self.h
        ctx = multiprocessing.get_context("spawn")
        for number in range(min(h.processes, len(self.todo))):
            scratch = h.scratch / f"proc-{number}"
            scratch.mkdir()
            parent_conn, child_conn = ctx.Pipe()
            where = _Where(
                h.shard,
                h.shards,
                scratch,
                os.getpid(),
                engine_threads(h.processes, h.processes_info),
            )
            process = ctx.Process(
                target=child_main,
                args=(child_conn, h.cfg, where),
                name=f"spotworker-{number}",
                daemon=True,
            )
            process.start()
            child_conn.close()
            self.children.append(_Child(number, process, parent_conn))
        h.log.event("pool_start", processes=len(self.children), objects=len(self.todo))
        for child in self.children:
            _assign(h, child, self.queue)

    def step(self) -> None:
        h = self.h
        if h.stop.requested or self.failure is not None:
            self.queue.clear()  # nothing new after a stop request or a failure
            for child in self.children:
                _stop(child)
        ready = wait([c.conn for c in self.children if c.running], timeout=0.2)
        dirty = False
        for child in self.children:
            if child.conn in ready:
                dirty = self._receive(child) or dirty
        if dirty and (
            h.stop.requested
            or self.failure is not None
            or time.monotonic() >= h.next_checkpoint
            or not any(c.running for c in self.children)
        ):
            h._write_checkpoint()
            h.next_checkpoint = time.monotonic() + h.cfg.checkpoint_seconds
        if time.monotonic() >= h.next_progress:
            h.log.event("progress", **h.stats())
            h.next_progress = time.monotonic() + PROGRESS_SECONDS

    def _receive(self, child: _Child) -> bool:
        """Handle one message of ``child``; True if the checkpoint changed."""
        h = self.h
        try:
            msg = child.conn.recv()
        except (EOFError, OSError):
            child.running = False
            child.process.join(timeout=5)
            if child.process.exitcode in {-signal.SIGTERM, -signal.SIGINT}:
                # a stop signal sent to the child itself (a process group's Ctrl-C) before
                # it could report: what it reported before is in the checkpoint; stop
                if not h.stop.requested:
                    h.stop.request(signal.Signals(-child.process.exitcode).name)
            elif child.busy is not None or self.queue:
                self._fail(
                    TransientError(
                        f"worker process {child.number} ended without a word "
                        f"(exit {child.process.exitcode}, killed?)"
                    )
                )
            return False
        kind = msg[0]
        if kind == "event":
            _, name, fields = msg
            if name == "progress":  # the shard's totals, not the child's
                fields = {k: v for k, v in fields.items() if k in {"object", "offset"}}
                fields.update(h.stats())
            h.log.event(name, process=child.number, **fields)
            return False
        if kind == "error":
            _, name, message, code = msg
            cls = getattr(errors, name, None)
            if not (isinstance(cls, type) and issubclass(cls, WorkerError)):
                cls = WorkerError
            self._fail(cls(message, exit_code=code))
            child.busy = None
            child.running = False
            return False
        _, objects, dbytes, drecords = msg  # progress, done, interrupted
        for raw in objects:
            prog = ObjectProgress.from_dict(raw)
            h.ckpt.objects[prog.index] = prog
        h.bytes_this_attempt += dbytes
        h.records_this_attempt += drecords
        if kind == "done":
            key = h.ckpt.objects[child.busy].key if child.busy is not None else ""
            h.log.event("progress", object=key, object_done=True, **h.stats())
            child.busy = None
            _assign(h, child, self.queue)
        elif kind == "interrupted":
            child.busy = None
            child.running = False
            if not h.stop.requested:  # a child stopped on its own (a SIGTERM sent to it)
                h.stop.request("SIGTERM")
        return True

    def _fail(self, err: WorkerError) -> None:
        if self.failure is None:
            self.failure = err

    def shutdown(self) -> None:
        for child in self.children:
            if child.process.is_alive():
                _stop(child)
        for child in self.children:
            child.process.join(timeout=30)
            if child.process.is_alive():
                child.process.kill()
                child.process.join(timeout=5)
            child.conn.close()


def _assign(harness: Harness, child: _Child, queue: deque[InputObject]) -> None:
    if queue and not harness.stop.requested:
        obj = queue.popleft()
        prog = harness.ckpt.objects.get(obj.index)
        child.busy = obj.index
        child.conn.send(
            ("object", (obj.index, obj.key, obj.etag, obj.size), asdict(prog) if prog else None)
        )
    else:
        with contextlib.suppress(OSError):
            child.conn.send(("exit",))


def _stop(child: _Child) -> None:
    """Ask ``child`` to stop at its next safe point (a message: it may still be starting)."""
    if child.running and not child.signalled:
        child.signalled = True
        with contextlib.suppress(OSError):
            child.conn.send(("stop",))


# -- the child -------------------------------------------------------------------


class _PipeLog:
    """The child's EventLog: every event goes to the parent, which logs it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def event(self, name: str, **fields: Any) -> None:
        self.conn.send(("event", name, fields))

    def bind(self, **context: Any) -> None:
        del context


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


@dataclass(frozen=True)
class _Where:
    shard: int
    shards: int
    scratch: Path
    parent_pid: int
    #: threads for a task's engine in each process (POLARS_MAX_THREADS)
    engine_threads: int


def engine_threads(processes: int, info: dict[str, Any]) -> int:
    """Threads for a multi-threaded engine (Polars) in each of ``processes`` worker
    processes: the job's vCPUs (``info`` from spotworker.vcpus; else the CPUs this
    process may run on) shared out, at least 1, so that N processes do not each start
    a thread per CPU of the host and oversubscribe the job's vCPUs N times."""
    cpus = info.get("vcpus") or info.get("cpus_visible") or cpus_visible()
    return max(1, int(cpus) // max(1, processes))


#: jemalloc, the allocator inside Polars: one arena for all its threads (by default one
#: per thread keeps each thread's freed pages): the example task's peak RSS at 1 GB
#: 157 MB without, ~145 with, at the same speed (worker/README.md, benchmark)
ENGINE_ALLOCATOR = "narenas:1"


def set_engine_env(threads: int) -> None:
    """Set up the task's engine before the task imports it (Polars reads both once, at
    import): ``threads`` threads (POLARS_MAX_THREADS) and ENGINE_ALLOCATOR (Polars adds
    ``_RJEM_MALLOC_CONF`` to its own jemalloc settings). A value the job sets is kept."""
    os.environ.setdefault("POLARS_MAX_THREADS", str(threads))
    os.environ.setdefault("_RJEM_MALLOC_CONF", ENGINE_ALLOCATOR)


def child_main(conn: Connection, cfg: Config, where: _Where) -> None:
    """A worker process: objects from the parent, progress and events back to it."""
    _die_with_parent(where.parent_pid)
    stop = _PipeStop(conn)
    stop.install()  # a SIGTERM sent to this process itself stops it too
    set_engine_env(where.engine_threads)
    from spotworker.entry import _as_worker_error

    log: Any = _PipeLog(conn)
    try:
        harness = _ChildHarness(
            cfg,
            make_client(cfg),
            load_task(cfg),
            log,
            stop,
            shard=where.shard,
            shards=where.shards,
            scratch=where.scratch,
        )
        harness.conn = conn
        while True:
            msg = conn.recv()
            if msg[0] != "object":
                return
            index, key, etag, size = msg[1]
            harness.ckpt.objects = {}
            if msg[2] is not None:
                prog = ObjectProgress.from_dict(msg[2])
                harness.ckpt.objects[prog.index] = prog
            harness.next_checkpoint = time.monotonic() + cfg.checkpoint_seconds
            harness.next_progress = time.monotonic() + PROGRESS_SECONDS
            try:
                harness._run_object(InputObject(index, key, etag, size))
            except Interrupted:
                harness.report("interrupted")
                return
            harness.report("done")
    except (EOFError, BrokenPipeError):
        return  # the parent is gone
    except Exception as exc:  # everything goes to the parent, classified
        err = _as_worker_error(exc)
        message = str(err) if isinstance(exc, WorkerError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):
            conn.send(("error", type(err).__name__, message[:500], err.exit_code))


class _PipeStop(StopFlag):
    """The child's stop flag: set by the parent's "stop" message (read at each safe point,
    where the harness looks at the flag) or by a signal to the child itself."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._requested = False
        super().__init__()

    @property
    def requested(self) -> bool:
        # only "stop" comes while the child works on an object (objects come when it is idle)
        if not self._requested and self.conn.poll() and self.conn.recv()[0] == "stop":
            self.request("parent")
        return self._requested

    @requested.setter
    def requested(self, value: bool) -> None:
        self._requested = value


class _ChildHarness(Harness):
    """A harness that processes the objects the parent gives it; its 'checkpoint'
    is a message to the parent with the object's progress."""

    conn: Connection
    _sent_bytes = 0
    _sent_records = 0

    def report(self, kind: str) -> None:
        objects = [asdict(p) for p in self.ckpt.objects.values()]
        dbytes = self.bytes_this_attempt - self._sent_bytes
        drecords = self.records_this_attempt - self._sent_records
        self._sent_bytes, self._sent_records = self.bytes_this_attempt, self.records_this_attempt
        self.conn.send((kind, objects, dbytes, drecords))

    def _write_checkpoint(self) -> None:
        self.report("progress")
