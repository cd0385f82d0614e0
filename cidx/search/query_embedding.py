"""The text a semantic query is embedded as (ADR 0013, "Query text").

The closing sentence punctuation of a query is dropped before embedding. The model mean-pools every
token, and in a short query a final `.` is a tenth of the vector: it pulls the query towards prose
(comments, messages) and away from code. Measured on the quality benchmark (DESIGN §8) with the
shipped model, on fresh indexes: semantic recall@10 +0.015 on the dev set and +0.020 on the check
set, hybrid +0.003 and +0.006 (docs/performance.md, 0.4.2). Nothing else of the query changes: stop
words, inner dots (`os.path.join`) and brackets (`open()`) carry meaning, and removing them
measured worse. Full text does not need this: its analysis drops punctuation anyway.
"""

from __future__ import annotations

import re

_CLOSING = re.compile(r"[\s.!?;:,]+$")


def embedding_text(query: str) -> str:
    """`query` without its closing sentence punctuation; a query of punctuation alone stays as given."""
    return _CLOSING.sub("", query) or query
