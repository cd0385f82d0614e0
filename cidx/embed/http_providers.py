"""HTTP embedding providers: VoyageAI, and any OpenAI-compatible `/v1/embeddings` endpoint
(OpenAI itself, Ollama, vLLM, LM Studio).

Stdlib urllib only: two small JSON POSTs do not justify a dependency. embed() cuts its texts into
requests (embedding.batch_size inputs, embedding.max_request_chars characters) and keeps up to
embedding.max_concurrent_requests of them in flight (inflight.py, ADR 0018). Construction reads the API
key from the environment and never touches the network; the first request happens in embed().
Every failure becomes one EmbeddingError line that names the URL and the fix.
"""

from __future__ import annotations

import email.utils
import http.client
import itertools
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Sequence

import numpy as np

from cidx.config import EmbeddingConfig
from cidx.embed.base import l2_normalise
from cidx.embed.inflight import RateGate, plan_batches, run_in_flight
from cidx.fastpath.errors import EmbeddingError

# Documented default output sizes, so `dim` is right before the first call. Any other model's
# size is learned from its first response.
KNOWN_DIMS = {
    "voyage-code-3": 1024, "voyage-3": 1024, "voyage-3-large": 1024, "voyage-3-lite": 512,
    "voyage-3.5": 1024, "voyage-3.5-lite": 1024, "voyage-code-2": 1536,
    "text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
}
MAX_RETRY_AFTER = 60.0  # a server asking for longer is treated as down rather than waited on


class _Failure:
    """A failed attempt: `status` is the HTTP code, or None for a connection-level problem."""

    def __init__(self, status: int | None, detail: str, retry_after: float | None = None):
        self.status, self.detail, self.retry_after = status, detail, retry_after

    def describe(self) -> str:
        return f"HTTP {self.status} ({self.detail})" if self.status else self.detail


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _error_detail(raw: bytes) -> str:
    """The server's own explanation if it gave one in the usual JSON shapes, else the raw text."""
    text = raw.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
        if isinstance(doc, dict):
            err = doc.get("error")
            msg = err.get("message") if isinstance(err, dict) else err
            msg = msg or doc.get("detail") or doc.get("message")
            if isinstance(msg, str) and msg:
                return _one_line(msg)
    except ValueError:
        pass
    return _one_line(text) or "empty body"


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:  # the HTTP-date form
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, seconds)


def _is_loopback(host: str | None) -> bool:
    return bool(host) and (host == "localhost" or host == "::1" or host.startswith("127."))


class _HttpEmbedder:
    provider = ""
    service = ""
    default_base_url: str | None = None
    default_key_env = ""
    key_required = False

    def __init__(self, cfg: EmbeddingConfig, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.model = cfg.model
        base = (cfg.base_url or self.default_base_url or "").rstrip("/")
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EmbeddingError(f"embedding.base_url {cfg.base_url!r} is not an http(s) URL; "
                                 f"set it to the API root, e.g. http://localhost:11434/v1")
        self.base_url = base
        self.url = f"{base}/embeddings"
        self.key_env = cfg.api_key_env or self.default_key_env
        self._key = os.environ.get(self.key_env) or None
        if self._key is None and (self.key_required or cfg.api_key_env):
            raise EmbeddingError(f"${self.key_env} is not set; export your {self.service} API key in it "
                                 f"(or point embedding.api_key_env at the variable that holds it)")
        self.batch_size = max(1, int(cfg.batch_size))
        self.timeout = float(cfg.timeout_seconds)
        self.max_retries = max(0, int(cfg.max_retries))
        self.max_in_flight = max(1, int(cfg.max_concurrent_requests))
        self.max_request_chars = max(1, int(cfg.max_request_chars))
        # The indexer hands over this many texts per call when it can, so that K full requests
        # can be in flight at once.
        self.preferred_batch = self.batch_size * self.max_in_flight
        self._sleep, self._clock = sleep, clock
        self._gate = RateGate(clock, sleep)  # a 429 pauses every worker, not just the one that got it
        self.dim = KNOWN_DIMS.get(self.model, 0)  # 0 = unknown until the first response
        self._dim_source = "the model's documented size" if self.dim else ""
        self._dim_lock = threading.Lock()
        # Local servers (Ollama, vLLM) must not be sent through an HTTP(S)_PROXY from the env.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(parts.hostname) else []
        self._opener = urllib.request.build_opener(*handlers)

    # --- protocol -----------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ranges = plan_batches(texts, self.batch_size, self.max_request_chars)
        jobs = [lambda abort, s=s, e=e: self._embed_batch(texts[s:e], "document", abort) for s, e in ranges]
        parts = run_in_flight(jobs, self.max_in_flight)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed_batch([text], "query")[0]

    # --- internals ----------------------------------------------------------------------------

    def _payload(self, texts: list[str], input_type: str) -> dict:
        raise NotImplementedError

    def _embed_batch(self, texts: list[str], input_type: str,
                     abort: threading.Event | None = None) -> np.ndarray | None:
        # OpenAI-style servers reject empty strings outright; a lone space embeds as "nothing".
        body = json.dumps(self._payload([t if t else " " for t in texts], input_type)).encode()
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            self._gate.wait()
            if abort is not None and abort.is_set():
                return None  # another request of this call failed: its error is the one reported
            result = self._post(body)
            if isinstance(result, bytes):
                return self._parse(result, len(texts))
            if result.status in (401, 403):
                if self._key:
                    raise EmbeddingError(f"{self.service} at {self.url} rejected the API key "
                                         f"(HTTP {result.status}); check ${self.key_env}")
                raise EmbeddingError(f"{self.service} at {self.url} requires an API key (HTTP {result.status}); "
                                     f"set ${self.key_env} (or embedding.api_key_env)")
            if result.status is not None and result.status != 429 and result.status < 500:
                raise EmbeddingError(f"{self.service} at {self.url} refused the request: {result.describe()}; "
                                     f"check embedding.model ({self.model!r})")
            if attempt + 1 < attempts:  # 429, 5xx and dropped connections are worth another try
                delay = result.retry_after if result.retry_after is not None else min(0.5 * 2 ** attempt, 8.0)
                if result.status == 429:  # the rate limit is the account's: every worker holds back
                    self._gate.pause_until(self._clock() + min(delay, MAX_RETRY_AFTER))
                else:
                    self._sleep(min(delay, MAX_RETRY_AFTER))
        raise EmbeddingError(f"{self.service} at {self.url}: {result.describe()} persisted after {attempts} "
                             f"attempts; try again later or raise embedding.max_retries")

    def _post(self, body: bytes) -> bytes | _Failure:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "cidx"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        timeout_msg = (f"{self.service} at {self.url} timed out after {self.timeout:g} s; "
                       f"raise embedding.timeout_seconds or check the server")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            try:
                raw = exc.read()
            except (OSError, ValueError):
                raw = b""
            return _Failure(exc.code, _error_detail(raw), _parse_retry_after(exc.headers.get("Retry-After")))
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise EmbeddingError(timeout_msg) from None
            if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
                why = "connection refused" if isinstance(reason, ConnectionRefusedError) else "unknown host"
                raise EmbeddingError(f"cannot reach {self.url} ({why}); start the server or fix "
                                     f"embedding.base_url") from None
            return _Failure(None, f"connection failed ({_one_line(str(reason))})")
        except TimeoutError:  # raised directly when the timeout hits while reading the body
            raise EmbeddingError(timeout_msg) from None
        except OSError as exc:  # reset / remote closed mid-response: transient
            return _Failure(None, f"connection failed ({exc.__class__.__name__})")
        except http.client.HTTPException as exc:  # truncated body, garbage status line
            return _Failure(None, f"bad HTTP response ({exc.__class__.__name__})")

    def _bad(self, why: str) -> EmbeddingError:
        return EmbeddingError(f"{self.service} at {self.url} sent a malformed response: {why}; "
                              f"check embedding.base_url points at an embeddings API")

    def _parse(self, raw: bytes, count: int) -> np.ndarray:
        try:
            doc = json.loads(raw)
        except ValueError:
            raise self._bad(f"body is not JSON ({_one_line(raw.decode('utf-8', 'replace'), 80)!r})") from None
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise self._bad("no `data` list of objects")
        if len(data) != count:
            raise self._bad(f"{len(data)} embeddings for {count} texts")
        indices = [d.get("index") for d in data]
        if all(isinstance(i, int) for i in indices):
            if sorted(indices) != list(range(count)):
                raise self._bad(f"indices {sorted(indices)[:5]}... are not 0..{count - 1}")
            data = sorted(data, key=lambda d: d["index"])
        vectors = [d.get("embedding") for d in data]
        if not all(isinstance(v, list) and v for v in vectors):
            raise self._bad("an `embedding` is missing or not a list of numbers")
        sizes = sorted({len(v) for v in vectors})
        if len(sizes) > 1:
            raise self._bad(f"embeddings of different dimensions ({', '.join(map(str, sizes))})")
        try:
            # one C-level pass over the types (a per-number isinstance() loop cost 4 ms per 32 x 384)
            if not set(map(type, itertools.chain.from_iterable(vectors))) <= {float, int}:
                raise TypeError
            matrix = np.array(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise self._bad("an `embedding` contains something that is not a number") from None
        if not np.isfinite(matrix).all():
            raise self._bad("an `embedding` contains NaN or infinity")
        self._check_dim(matrix.shape[1])
        return l2_normalise(matrix)

    def _check_dim(self, got: int) -> None:
        with self._dim_lock:
            if not self.dim:
                self.dim, self._dim_source = got, "earlier responses"
            elif got != self.dim:
                raise EmbeddingError(
                    f"{self.service} model {self.model!r} at {self.url} returned {got}-dimensional vectors, "
                    f"expected {self.dim} (from {self._dim_source}); check embedding.model, and rebuild "
                    f"with `cidx index --clear` if the model really changed")


class VoyageEmbedder(_HttpEmbedder):
    """VoyageAI: documents and queries are embedded asymmetrically via `input_type`."""

    provider = "voyage"
    service = "VoyageAI"
    default_base_url = "https://api.voyageai.com/v1"
    default_key_env = "VOYAGE_API_KEY"
    key_required = True

    def __init__(self, cfg: EmbeddingConfig, **timing):
        super().__init__(cfg, **timing)
        self.name = f"voyage:{self.model}"  # the vector space is the model, wherever it is served

    def _payload(self, texts: list[str], input_type: str) -> dict:
        return {"input": texts, "model": self.model, "input_type": input_type}


class OpenAICompatibleEmbedder(_HttpEmbedder):
    """OpenAI `/v1/embeddings` and look-alikes. The key is optional: local servers need none."""

    provider = "openai"
    service = "OpenAI-compatible server"
    default_key_env = "OPENAI_API_KEY"

    def __init__(self, cfg: EmbeddingConfig, **timing):
        if not cfg.base_url:
            raise EmbeddingError("embedding.base_url is required for the openai provider "
                                 "(e.g. http://localhost:11434/v1)")
        super().__init__(cfg, **timing)
        # Same model name on two servers may be two different models (quantisation, versions),
        # so the URL is part of the vector-space identity.
        self.name = f"openai:{self.model}@{self.base_url}"

    def _payload(self, texts: list[str], input_type: str) -> dict:
        return {"input": texts, "model": self.model}
