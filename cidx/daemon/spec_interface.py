"""The feature specification's RPyC interface, for clients written without cidx (docs/clients.md):

    query(project_path, query, limit=10, **kwargs)    query_fts(project_path, query, **kwargs)
    query_hybrid(project_path, query, **kwargs)       index(project_path, callback=None, **kwargs)
    get_status()                                      clear_cache(project_path=None)

Every reply is ONE JSON text (a str): plain immutable data, so a plain rpyc client reads it without
a round trip per access (DESIGN.md §3). A query's reply is exactly the document `cidx query --json`
prints for the same options; anything that goes wrong is `{"error": {"type", "message"}}`, never an
exception, and the daemon keeps serving. The CLI's own calls use the cli_* methods (service.py).
ADR 0014.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging

from rpyc.core.netref import BaseNetref

from cidx.daemon.spec_options import params_from_kwargs
from cidx.fastpath.errors import (CidxError, ConfigError, DiskFullError, EmbeddingError, IndexBusyError, IndexCancelled,
                         IndexMissingError, StoreCorruptError, UsageError, WrongProjectError)

log = logging.getLogger("cidx.daemon")

# The error reply's "type", most specific class first (WrongProjectError is a UsageError).
ERROR_TYPES = ((WrongProjectError, "wrong_project"), (UsageError, "bad_argument"),
               (IndexMissingError, "index_missing"), (StoreCorruptError, "index_corrupt"),
               (IndexBusyError, "index_busy"), (IndexCancelled, "index_cancelled"), (ConfigError, "config"),
               (EmbeddingError, "embedding"), (DiskFullError, "disk_full"), (CidxError, "error"))
INDEX_KWARGS = ("clear", "fts_only")


def error_reply(kind: str, message: str) -> str:
    return json.dumps({"error": {"type": kind, "message": " ".join(str(message).split())}})


def _error_type(exc: CidxError) -> str:
    return next(kind for cls, kind in ERROR_TYPES if isinstance(exc, cls))


def spec_method(func):
    """Arguments that do not fit the signature, a CidxError or a bug: an error reply, never an
    exception sent to the peer (its message would be a traceback's last line)."""
    signature = inspect.signature(func)
    name = func.__name__[len("exposed_"):]

    @functools.wraps(func)
    def exposed(self, *args, **kwargs) -> str:
        try:
            signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            return error_reply("bad_argument", f"{name}: {exc}")
        try:
            return func(self, *args, **kwargs)
        except CidxError as exc:
            return error_reply(_error_type(exc), exc.message)
        except Exception as exc:
            log.exception("%s failed", name)
            return error_reply("internal", f"daemon error in {name}: {exc.__class__.__name__}: {exc} "
                                           f"(see {self._state.log_path})")
    return exposed


def read_remote_sequence(value, most: int):
    """A list the caller passed by reference (an rpyc netref), read once: one round trip for its
    length, one per item. None for anything that is not a remote list or tuple."""
    if not isinstance(value, BaseNetref):
        return None
    type_name = object.__getattribute__(value, "____id_pack__")[0]
    if type_name not in ("builtins.list", "builtins.tuple"):
        return None
    size = len(value)
    if size > most:
        raise UsageError(f"at most {most} values in a list (got {size})")
    return tuple(value[i] for i in range(size))


class SpecInterface:
    """Mixed into CidxDaemonService, which provides _state, _check_project, _refuse_if_leaving,
    _run_index and _status."""

    def _spec_query(self, project_path, text, mode: str, options: dict) -> str:
        self._refuse_if_leaving()
        self._check_project(project_path)
        params = params_from_kwargs(text, mode, options, read_remote=read_remote_sequence)
        return self._state.cache.query(params).to_user_json()

    @spec_method
    def exposed_query(self, project_path, query, limit=10, **kwargs) -> str:
        """Semantic search. kwargs: the `cidx query` options by long name (docs/clients.md).
        Returns the JSON text `cidx query --json` prints."""
        return self._spec_query(project_path, query, "semantic", {"limit": limit, **kwargs})

    @spec_method
    def exposed_query_fts(self, project_path, query, **kwargs) -> str:
        """Full-text search (Tantivy); kwargs as for query, plus fuzzy, edit_distance,
        case_sensitive, regex. Returns the JSON text `cidx query --fts --json` prints."""
        return self._spec_query(project_path, query, "fts", kwargs)

    @spec_method
    def exposed_query_hybrid(self, project_path, query, **kwargs) -> str:
        """Semantic and full-text, fused by reciprocal rank. Returns the JSON text
        `cidx query --hybrid --json` prints."""
        return self._spec_query(project_path, query, "hybrid", kwargs)

    @spec_method
    def exposed_index(self, project_path, callback=None, **kwargs) -> str:
        """Index the repository (incremental; clear=True rebuilds, fts_only=True rebuilds the
        full-text index). callback(tuple) gets progress ~10 times a second. Returns the summary."""
        unknown = sorted(set(kwargs) - set(INDEX_KWARGS))
        if unknown:
            raise UsageError(f"unknown option {unknown[0]!r} for index; the options are: {', '.join(INDEX_KWARGS)}")
        for name, value in kwargs.items():
            if type(value) is not bool:
                raise UsageError(f"{name} must be True or False; got {type(value).__name__} {value!r}"[:120])
        if callback is not None and not callable(callback):
            raise UsageError(f"callback must be callable or None; got {type(callback).__name__}")
        summary = self._run_index(project_path, callback, kwargs.get("clear", False), kwargs.get("fts_only", False))
        return json.dumps(summary.__dict__)

    @spec_method
    def exposed_get_status(self) -> str:
        """The daemon's state, cache statistics and index generation, as a JSON object."""
        return json.dumps(self._status())

    @spec_method
    def exposed_clear_cache(self, project_path=None) -> str:
        """Drop everything the daemon holds in memory; the next query loads it again."""
        if project_path is not None:
            self._check_project(project_path)
        self._state.cache.clear()
        return json.dumps({"cleared": True, "root": str(self._state.config.root)})
