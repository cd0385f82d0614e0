"""The RPyC service: the only methods a client can call. Arguments and replies are plain immutable
data (str, int, float, bool, None, tuples), so nothing is passed by reference and no reply costs
extra round trips (DESIGN.md §3).

Two interfaces (ADR 0014): the CLI's own methods here (hello, ping, cli_query, cli_index,
cli_status, watch, watch_stop, cancel_index, shutdown), replying ("ok", payload...) or ("error",
exit_code, message) with queries and results as tuples; and the feature specification's methods
for third-party clients (query, query_fts, query_hybrid, index, get_status, clear_cache, in
spec_interface.py), replying with one JSON text each.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import rpyc

from cidx import __version__
from cidx.fastpath.protocol import ERROR, OK, PROTOCOL_VERSION
from cidx.daemon.spec_interface import SpecInterface
from cidx.fastpath.errors import CidxError, IndexBusyError, UsageError, WrongProjectError
from cidx.indexer import ProgressEvent, run_index
from cidx.fastpath.params import QueryParams

log = logging.getLogger("cidx.daemon")

PROGRESS_MIN_INTERVAL = 0.1  # seconds between progress callbacks (~10/s), phase changes excepted


def _error(exc: CidxError) -> tuple:
    return (ERROR, exc.exit_code, exc.message)


class DaemonState:
    """What the service methods share: the config, the cache, indexing status, shutdown."""

    def __init__(self, config, cache, *, socket_path: Path, log_path: Path, request_shutdown):
        self.config = config
        self.cache = cache
        self.socket_path = socket_path
        self.log_path = log_path
        self.request_shutdown = request_shutdown
        self.started = time.time()
        self.index_lock = threading.Lock()
        self.index_cancel: threading.Event | None = None
        self.index_progress: tuple | None = None
        self.watcher = None  # cidx.watch.Watcher while `cidx watch` runs in the daemon

    def reindex_for_watch(self) -> None:
        """Serialised with client-requested indexing (index_lock) and, across processes, by the
        writer lock inside run_index."""
        def log_notice(event: ProgressEvent) -> None:
            if event.phase == "notice":  # no client to tell: the log says why this run rebuilds
                log.info("watch: %s", event.message)

        with self.index_lock, self.cache.request():
            run_index(self.config, self.cache.engine.embedder, progress=log_notice, on_commit=self.refresh_reader)

    def refresh_reader(self, generation: int) -> None:
        """After each generation this daemon's own indexing commits: load it now (a delta segment
        takes milliseconds; a compaction's merged segment up to seconds at 1M chunks), so it is
        searchable before the next query asks and that query does not pay the load (ADR 0020). A
        cold cache stays cold."""
        reader = self.cache.engine.reader
        if reader.loaded_generation is None:
            return
        try:
            with reader.snapshot():
                pass
        except Exception:  # noqa: BLE001 - the next query loads it and reports any error itself
            log.warning("refreshing the reader after commit %s failed", generation, exc_info=True)

    def stop_watch(self) -> bool:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.stop()
            self.cache.release()  # a watch holds the daemon alive (see exposed_watch)
        return watcher is not None


class CidxDaemonService(SpecInterface, rpyc.Service):
    """One instance per connection (see server.py), so a request to leave can wait for the reply
    to reach its client: the daemon shuts down when that client disconnects."""

    def __init__(self, state: DaemonState):
        super().__init__()
        self._state = state
        self._root_text = str(state.config.root)
        self._leave_reason: str | None = None

    def on_connect(self, conn) -> None:
        # Frames stay uncompressed: over a Unix socket zlib only costs time at both ends, and the
        # fast-path client then never loads zlib (~0.4 ms of its start; ADR 0010). `_channel` is
        # rpyc's own attribute: should a release rename it, frames are compressed again (clients
        # accept both) rather than every connection failing here.
        channel = getattr(conn, "_channel", None)
        if channel is not None:
            channel.compress = False
        self._state.cache.hold()  # a connected client is activity: no idle shutdown under it

    def on_disconnect(self, conn) -> None:
        self._state.cache.release()
        if self._leave_reason is not None:
            self._state.request_shutdown(self._leave_reason)

    # -- helpers ----------------------------------------------------------------------------------
    def _is_my_project(self, project_path) -> bool:
        if not isinstance(project_path, str):
            return False
        if project_path == self._root_text:  # what every client sends: no filesystem walk per request
            return True
        return Path(project_path).resolve() == self._state.config.root.resolve()

    def _check_project(self, project_path) -> None:
        if not self._is_my_project(project_path):
            raise WrongProjectError(f"this daemon serves {self._state.config.root}, not {project_path}"[:300])

    def _refuse_if_leaving(self) -> None:
        if self._leave_reason is not None:
            # The handshake told this client to replace us; a query it pipelined behind the
            # handshake is not for this daemon's (older) code or config.
            raise CidxError(f"this daemon is leaving ({self._leave_reason}); nothing was searched")

    def _run_query(self, project_path, params_wire) -> tuple:
        try:
            self._refuse_if_leaving()
            self._check_project(project_path)
            return (OK, self._state.cache.query(QueryParams.from_wire(params_wire)).to_wire())
        except CidxError as exc:
            return _error(exc)
        except Exception as exc:  # a bug in the daemon: the client shows it as an error, not a crash
            log.exception("query failed")
            return (ERROR, 1, f"daemon error: {exc.__class__.__name__}: {exc} (see {self._state.log_path})")

    def _run_index(self, project_path, callback, clear: bool, fts_only: bool):
        """Index in the daemon with the warm model; returns the IndexSummary. Progress goes to
        `callback` as plain tuples; a client that goes away mid-index only loses its display."""
        state = self._state
        self._check_project(project_path)
        if not state.index_lock.acquire(blocking=False):
            raise IndexBusyError("indexing is already running in the daemon; wait for it or run `cidx status`")
        try:
            cancel = state.index_cancel = threading.Event()
            progress = _ThrottledProgress(callback, state)
            with state.cache.request():
                return run_index(state.config, state.cache.engine.embedder, clear=bool(clear),
                                 fts_only=bool(fts_only), progress=progress, should_cancel=cancel.is_set,
                                 on_commit=state.refresh_reader)
        finally:
            state.index_cancel = None
            state.index_progress = None
            state.index_lock.release()

    def _status(self) -> dict:
        state, cache = self._state, self._state.cache
        reader = cache.engine.reader
        return {
            "pid": os.getpid(),
            "version": __version__,
            "root": str(state.config.root),
            "socket": str(state.socket_path),
            "log": str(state.log_path),
            "uptime_s": round(time.time() - state.started, 1),
            "cache_state": cache.state,
            "ttl_left_s": cache.ttl_left(),
            "ttl_minutes": state.config.daemon.ttl_minutes,
            "auto_shutdown_on_idle": state.config.daemon.auto_shutdown_on_idle,
            "generation_loaded": reader.loaded_generation,
            "rss_bytes": rss_bytes(),
            "queries": cache.queries,
            "cache_hits": cache.hits,
            "cache_misses": cache.misses,
            "query_errors": cache.errors,
            "disk_loads": dict(reader.loads),
            "segments_held": reader.segments_held,
            "indexing": state.index_cancel is not None,
            "index_progress": state.index_progress,
            "watch": state.watcher.state() if state.watcher is not None else None,
            "config_fingerprint": state.config.fingerprint(),
        }

    # -- exposed: the CLI's own methods (plain tuples; the spec's methods are in spec_interface) --
    def exposed_hello(self, client_version, config_fingerprint, project_path) -> tuple:
        """Handshake: a daemon of another version or config replaces itself (like dmypy, Gradle)."""
        config = self._state.config
        same_project = self._is_my_project(project_path)
        compatible = client_version == __version__ and config_fingerprint == config.fingerprint() and same_project
        if not compatible and same_project:
            log.info("client %s / config %s differ from mine (%s / %s): leaving for a new daemon",
                     client_version, config_fingerprint, __version__, config.fingerprint())
            self._leave_reason = "replaced by a daemon of another version or config"
        return (OK, __version__, config.fingerprint(), os.getpid(), compatible, PROTOCOL_VERSION)

    def exposed_ping(self) -> tuple:
        return (OK, os.getpid())

    def exposed_cli_query(self, project_path, params_wire) -> tuple:
        """The CLI's query, any mode: params_wire is QueryParams.to_wire() (the mode is one of its
        fields); the reply's payload is QueryResult.to_wire()."""
        return self._run_query(project_path, params_wire)

    def exposed_cli_index(self, project_path, callback=None, clear=False, fts_only=False) -> tuple:
        """`cidx index` in the daemon; the reply's payload is the summary as JSON."""
        try:
            return (OK, json.dumps(self._run_index(project_path, callback, clear, fts_only).__dict__))
        except CidxError as exc:
            return _error(exc)
        except Exception as exc:
            log.exception("indexing failed")
            return (ERROR, 1, f"daemon error while indexing: {exc.__class__.__name__}: {exc} "
                              f"(see {self._state.log_path})")

    def exposed_watch(self, project_path, debounce_seconds=1.0) -> tuple:
        """Start re-indexing changed files after `debounce_seconds` of quiet (idempotent)."""
        from cidx.watch import Watcher, snapshot

        state = self._state
        try:
            self._check_project(project_path)
            debounce = float(debounce_seconds)
            if not 0 <= debounce <= 3600:
                raise UsageError("--debounce must be between 0 and 3600 seconds")
        except (CidxError, TypeError, ValueError) as exc:
            return _error(exc if isinstance(exc, CidxError) else UsageError(str(exc)))
        if state.watcher is None:
            state.cache.hold()  # while watching, the daemon never idles out (auto_shutdown_on_idle)
            state.watcher = Watcher(lambda: snapshot(state.config), state.reindex_for_watch,
                                    debounce_seconds=debounce,
                                    on_error=lambda exc: log.warning("watch: re-index failed: %s", exc))
            threading.Thread(target=state.watcher.run, name="watch", daemon=True).start()
            log.info("watching %s (debounce %.1fs)", state.config.root, debounce)
        return (OK, json.dumps(state.watcher.state()))

    def exposed_watch_stop(self) -> tuple:
        return (OK, self._state.stop_watch())

    def exposed_cancel_index(self) -> tuple:
        cancel = self._state.index_cancel
        if cancel is not None:
            cancel.set()
        return (OK, cancel is not None)

    def exposed_cli_status(self) -> tuple:
        return (OK, json.dumps(self._status()))

    def exposed_shutdown(self) -> tuple:
        self._leave_reason = "stop requested by a client"  # once the reply is delivered
        return (OK, os.getpid())


class _ThrottledProgress:
    """Forwards progress events to the client at most ~10 per second (phase changes always)."""

    def __init__(self, callback, state: DaemonState):
        self.callback = callback
        self.state = state
        self.last_sent = 0.0
        self.last_phase = None

    def __call__(self, event: ProgressEvent) -> None:
        values = event.as_tuple()
        self.state.index_progress = values
        if self.callback is None:
            return
        now = time.monotonic()
        if event.phase == self.last_phase and now - self.last_sent < PROGRESS_MIN_INTERVAL:
            return
        self.last_sent, self.last_phase = now, event.phase
        try:
            self.callback(values)
        except Exception as exc:  # the client went away (or its callback broke): keep indexing
            log.info("progress callback failed (%s); indexing continues without it", exc.__class__.__name__)
            self.callback = None


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
