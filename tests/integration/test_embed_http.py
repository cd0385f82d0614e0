"""HTTP providers against a real local server (ThreadingHTTPServer on 127.0.0.1, ephemeral port).

The server answers /v1/embeddings deterministically and can be scripted to fail, so every error
path goes through real sockets, real urllib and real JSON, with no mocks of the client.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cidx.config import EmbeddingConfig
from cidx.embed import make_embedder
from cidx.embed.http_providers import OpenAICompatibleEmbedder, VoyageEmbedder
from cidx.fastpath.errors import EmbeddingError

DIM = 8


def fake_vector(text: str, dim: int = DIM) -> list[float]:
    """Deterministic, deliberately not normalised (the client must normalise)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 16.0 for b in digest[:dim]]


class FakeServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.script: deque = deque()  # actions consumed one per request; empty -> normal answer
        self.release = threading.Event()  # lets a hanging handler finish at teardown
        self.dim = DIM
        self.latency = 0.0  # seconds each normal answer is held back (the "network + GPU" time)
        self.spans: list[tuple[float, float]] = []  # (start, end) monotonic time of each normal answer
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                state.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": json.loads(body)})
                action = state.script.popleft() if state.script else ("ok",)
                kind = action[0]
                if kind == "hang":
                    state.release.wait(action[1])
                    return self._send(200, {}, b"{}")
                if kind == "status":
                    return self._send(action[1], action[2], action[3])
                if kind == "slow":  # a normal answer after its own latency
                    time.sleep(action[1])
                if kind == "raw":
                    return self._send(200, {}, action[1])
                inputs = json.loads(body)["input"]
                started = time.monotonic()
                if state.latency and kind != "slow":
                    time.sleep(state.latency)
                state.spans.append((started, time.monotonic()))
                data = [{"object": "embedding", "index": i, "embedding": fake_vector(t, state.dim)}
                        for i, t in enumerate(inputs)]
                data.reverse()  # out of order on purpose: the client must sort by index
                return self._send(200, {}, json.dumps({"object": "list", "data": data}).encode())

            def _send(self, code, headers, payload: bytes):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


class Sleeper:
    """The injected clock and sleep: sleeping records the call and moves the fake clock on, unless
    the clock is frozen (then a Retry-After pause never ends, and every wait on it shows up)."""

    def __init__(self, frozen: bool = False):
        self.calls: list[float] = []
        self.threads: list[str] = []
        self.now = 1000.0
        self.frozen = frozen
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:  # records instead of sleeping
        with self._lock:
            self.calls.append(seconds)
            self.threads.append(threading.current_thread().name)
            if not self.frozen:
                self.now += seconds

    def clock(self) -> float:
        return self.now


def voyage(server, monkeypatch, sleeper=None, **cfg) -> VoyageEmbedder:
    monkeypatch.setenv("VOYAGE_API_KEY", "sekrit")
    sleeper = sleeper or Sleeper()
    config = EmbeddingConfig(provider="voyage", model=cfg.pop("model", "test-model"), base_url=server.url, **cfg)
    return VoyageEmbedder(config, sleep=sleeper, clock=sleeper.clock)


def openai(server, monkeypatch, sleeper=None, **cfg) -> OpenAICompatibleEmbedder:
    sleeper = sleeper or Sleeper()
    config = EmbeddingConfig(provider="openai", model=cfg.pop("model", "nomic-embed-text"), base_url=server.url, **cfg)
    return OpenAICompatibleEmbedder(config, sleep=sleeper, clock=sleeper.clock)


def expected(texts):
    v = np.array([fake_vector(t) for t in texts], dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# --- happy paths --------------------------------------------------------------------------------

def test_voyage_batches_orders_and_normalises(server, monkeypatch):
    emb = voyage(server, monkeypatch, batch_size=2)
    assert emb.name == "voyage:test-model"
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    out = emb.embed(texts)
    assert out.dtype == np.float32 and out.shape == (5, DIM) and emb.dim == DIM
    np.testing.assert_allclose(out, expected(texts), atol=1e-6)
    # requests are in flight together (default max_concurrent_requests 4): they may arrive in any order
    assert sorted(r["body"]["input"] for r in server.requests) == [["alpha", "beta"], ["epsilon"], ["gamma", "delta"]]
    first = server.requests[0]
    assert first["path"] == "/v1/embeddings"
    assert first["body"]["model"] == "test-model" and first["body"]["input_type"] == "document"
    assert first["headers"]["Authorization"] == "Bearer sekrit"
    assert first["headers"]["Content-Type"] == "application/json"


def test_voyage_query_uses_query_input_type(server, monkeypatch):
    q = voyage(server, monkeypatch).embed_query("find the parser")
    assert q.shape == (DIM,) and q.dtype == np.float32
    np.testing.assert_allclose(q, expected(["find the parser"])[0], atol=1e-6)
    assert server.requests[0]["body"]["input_type"] == "query"


def test_openai_compatible_without_key(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    emb = make_embedder(EmbeddingConfig(provider="openai", model="nomic-embed-text", base_url=server.url + "/"))
    assert emb.name == f"openai:nomic-embed-text@{server.url}"
    np.testing.assert_allclose(emb.embed(["x", "y"]), expected(["x", "y"]), atol=1e-6)
    req = server.requests[0]
    assert req["path"] == "/v1/embeddings"
    assert req["body"] == {"input": ["x", "y"], "model": "nomic-embed-text"}
    assert "Authorization" not in req["headers"]


def test_openai_sends_key_when_set(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    openai(server, monkeypatch).embed(["x"])
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-local"


def test_empty_input_makes_no_request(server, monkeypatch):
    out = voyage(server, monkeypatch, model="voyage-code-3").embed([])
    assert out.shape == (0, 1024) and out.dtype == np.float32
    assert server.requests == []


# --- failures -----------------------------------------------------------------------------------

def test_401_is_one_clear_message_without_retry(server, monkeypatch):
    server.script.append(("status", 401, {}, b'{"detail": "bad key"}'))
    sleeper = Sleeper()
    with pytest.raises(EmbeddingError, match=r"rejected the API key \(HTTP 401\); check \$VOYAGE_API_KEY") as exc:
        voyage(server, monkeypatch, sleeper).embed(["a"])
    assert "sekrit" not in str(exc.value)
    assert len(server.requests) == 1 and sleeper.calls == []


def test_403_without_key_says_to_set_one(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.script.append(("status", 403, {}, b"{}"))
    with pytest.raises(EmbeddingError, match=r"HTTP 403.*OPENAI_API_KEY"):
        openai(server, monkeypatch).embed(["a"])


def test_429_then_success_honours_retry_after(server, monkeypatch):
    server.script.append(("status", 429, {"Retry-After": "3"}, b'{"detail": "slow down"}'))
    sleeper = Sleeper()
    out = voyage(server, monkeypatch, sleeper).embed(["a", "b"])
    np.testing.assert_allclose(out, expected(["a", "b"]), atol=1e-6)
    assert len(server.requests) == 2
    assert server.requests[0]["body"] == server.requests[1]["body"]
    assert sleeper.calls == [3.0]


def test_persistent_500_gives_up_after_max_retries(server, monkeypatch):
    for _ in range(10):
        server.script.append(("status", 500, {}, b"internal"))
    sleeper = Sleeper()
    with pytest.raises(EmbeddingError, match=r"HTTP 500.*3 attempts") as exc:
        voyage(server, monkeypatch, sleeper, max_retries=2).embed(["a"])
    assert server.url in str(exc.value)
    assert len(server.requests) == 3
    assert len(sleeper.calls) == 2 and sleeper.calls[1] > sleeper.calls[0] > 0  # backoff grows


def test_400_reports_the_server_message_without_retry(server, monkeypatch):
    server.script.append(("status", 400, {}, b'{"error": {"message": "model \\"nope\\" not found"}}'))
    sleeper = Sleeper()
    with pytest.raises(EmbeddingError, match=r"HTTP 400.*not found"):
        openai(server, monkeypatch, sleeper, model="nope").embed(["a"])
    assert len(server.requests) == 1 and sleeper.calls == []


def test_timeout_names_url_and_limit(server, monkeypatch):
    server.script.append(("hang", 5))
    start = time.monotonic()
    with pytest.raises(EmbeddingError, match=r"timed out after 0\.2 ?s") as exc:
        openai(server, monkeypatch, timeout_seconds=0.2).embed(["a"])
    assert time.monotonic() - start < 2.0
    assert f"{server.url}/embeddings" in str(exc.value)
    assert "timeout_seconds" in str(exc.value)


@pytest.mark.parametrize("body, why", [
    (b"<html>oops</html>", "JSON"),
    (b'{"nothing": []}', "data"),
    (b'{"data": [{"index": 0, "embedding": [1, 2, 3]}, {"index": 1, "embedding": [1, 2]}]}', "dim"),
    (b'{"data": [{"index": 0, "embedding": [1, 2, 3]}]}', "2 texts"),
    (b'{"data": [{"index": 0, "embedding": [1, "x"]}, {"index": 1, "embedding": [1, 2]}]}', "number"),
])
def test_malformed_bodies_are_clear_errors(server, monkeypatch, body, why):
    server.script.append(("raw", body))
    with pytest.raises(EmbeddingError, match=why):
        openai(server, monkeypatch).embed(["a", "b"])


def test_dimension_change_between_calls_is_refused(server, monkeypatch):
    emb = openai(server, monkeypatch)
    emb.embed(["a"])
    server.dim = 6
    with pytest.raises(EmbeddingError, match=r"6.*8|8.*6"):
        emb.embed(["b"])


def test_known_model_with_wrong_dims_is_refused(server, monkeypatch):
    with pytest.raises(EmbeddingError, match="1024"):
        voyage(server, monkeypatch, model="voyage-code-3").embed(["a"])


def test_connection_refused_is_clear_and_not_retried(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed on exit: nothing listens there now
    sleeper = Sleeper()
    cfg = EmbeddingConfig(provider="openai", model="m", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(EmbeddingError, match=rf"cannot reach http://127\.0\.0\.1:{port}/v1/embeddings"):
        OpenAICompatibleEmbedder(cfg, sleep=sleeper, clock=sleeper.clock).embed(["a"])
    assert sleeper.calls == []


def test_local_server_bypasses_env_proxy(server, monkeypatch):
    # An HTTP_PROXY meant for the internet must not swallow requests to a local Ollama/vLLM.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert openai(server, monkeypatch).embed(["a"]).shape == (1, DIM)
    assert len(server.requests) == 1


# --- requests in flight (ADR 0018) ----------------------------------------------------------------

def max_overlap(spans) -> int:
    """The most answers the server was working on at one instant."""
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_k_requests_overlap_on_the_server_and_never_more(server, monkeypatch):
    server.latency = 0.3  # wide enough for 4 threads to connect on a loaded machine
    texts = [f"text {i}" for i in range(16)]
    out = openai(server, monkeypatch, batch_size=2, max_concurrent_requests=4).embed(texts)
    np.testing.assert_allclose(out, expected(texts), atol=1e-6)
    assert len(server.spans) == 8
    assert max_overlap(server.spans) == 4


def test_one_request_in_flight_when_k_is_1(server, monkeypatch):
    server.latency = 0.05
    openai(server, monkeypatch, batch_size=1, max_concurrent_requests=1).embed(["a", "b", "c"])
    assert max_overlap(server.spans) == 1


def test_order_is_kept_when_answers_come_back_out_of_order(server, monkeypatch):
    for delay in (0.3, 0.2, 0.1, 0.0):  # the first request is answered last
        server.script.append(("slow", delay))
    texts = [f"t{i}" for i in range(8)]
    emb = voyage(server, monkeypatch, batch_size=2, max_concurrent_requests=4)
    np.testing.assert_allclose(emb.embed(texts), expected(texts), atol=1e-6)
    assert sorted(x for r in server.requests for x in r["body"]["input"]) == sorted(texts)


def test_429_retry_after_pauses_every_worker(server, monkeypatch):
    server.latency = 0.2  # the other worker is still busy when the 429 arrives, then takes a batch
    server.script.append(("status", 429, {"Retry-After": "7"}, b'{"detail": "slow down"}'))
    sleeper = Sleeper(frozen=True)  # the pause never ends on this clock: every wait on it is recorded
    texts = [f"t{i}" for i in range(4)]
    out = openai(server, monkeypatch, sleeper, batch_size=1, max_concurrent_requests=2).embed(texts)
    np.testing.assert_allclose(out, expected(texts), atol=1e-6)
    assert len(server.requests) == 5  # the refused one was sent again
    assert set(sleeper.calls) == {7.0}
    # both workers held back, not only the one that was told to
    assert len(set(sleeper.threads)) == 2, sleeper.threads


def test_a_429_pause_ends_at_retry_after_on_the_clock(server, monkeypatch):
    server.script.append(("status", 429, {"Retry-After": "2.5"}, b"{}"))
    sleeper = Sleeper()
    openai(server, monkeypatch, sleeper, batch_size=1, max_concurrent_requests=3).embed(["a"])
    assert sleeper.calls == [2.5] and sleeper.now == 1002.5


def test_requests_respect_the_input_and_character_limits(server, monkeypatch):
    texts = ["a" * 30, "b" * 30, "c" * 30, "d" * 500, "e" * 10, "f" * 10, "g" * 10, "h" * 10]
    out = openai(server, monkeypatch, batch_size=3, max_request_chars=70, max_concurrent_requests=4).embed(texts)
    np.testing.assert_allclose(out, expected(texts), atol=1e-6)
    sent = sorted((r["body"]["input"] for r in server.requests), key=lambda batch: texts.index(batch[0]))
    assert sent == [texts[0:2], texts[2:3], texts[3:4], texts[4:7], texts[7:8]]  # the long one goes alone


def test_a_failed_request_fails_the_whole_call_with_one_line(server, monkeypatch):
    server.latency = 0.05
    server.script.append(("status", 400, {}, b'{"error": {"message": "input too long"}}'))
    with pytest.raises(EmbeddingError, match=r"HTTP 400.*input too long") as exc:
        openai(server, monkeypatch, batch_size=1, max_concurrent_requests=4).embed([f"t{i}" for i in range(40)])
    assert "\n" not in str(exc.value)
    assert len(server.requests) < 40  # queued requests were not sent after the failure


def test_preferred_batch_fills_k_requests(server, monkeypatch):
    emb = openai(server, monkeypatch, batch_size=16, max_concurrent_requests=8)
    assert emb.preferred_batch == 128
