"""Named points inside a generation commit where crash tests kill the process (kill -9 semantics).

`CIDX_FAILPOINT=<name>` makes the process SIGKILL itself on reaching that point; unset, this is one
dict lookup. Randomised kills in tests/reliability complement these deterministic ones.
"""

from __future__ import annotations

import os
import signal

COMMIT_POINTS = ("after_hnsw_saved", "after_fts_committed", "before_sqlite_commit", "after_sqlite_commit",
                 "after_first_batch")
COMPACTION_POINTS = ("compact_after_hnsw_saved", "compact_after_fts_committed", "compact_before_sqlite_commit",
                     "compact_after_sqlite_commit")  # a compaction's generation (ADR 0020)
MODEL_BUILD_POINTS = ("onnx_mid_write", "onnx_before_sidecar")  # writing the cached ONNX model (ADR 0017)
POINTS = COMMIT_POINTS + COMPACTION_POINTS + MODEL_BUILD_POINTS


def reached(name: str) -> None:
    if os.environ.get("CIDX_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
