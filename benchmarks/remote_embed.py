"""Remote embedding throughput against a local OpenAI-compatible server with injected latency.

The server (ThreadingHTTPServer on 127.0.0.1, in its own process so that it does not share the
client's GIL) answers POST /v1/embeddings with deterministic 384-dimensional vectors after a fixed
delay (default 100 ms): the round trip plus the GPU time of a serving engine. It serves any number
of requests at once, like an engine that batches them, so what is measured is what the client does
with the latency: one request at a time, or K in flight. The client's own cost (JSON decoding of
the vectors, about 10 ms per 32 x 384 floats on this machine) is part of the figure, as in real use.

    .venv/bin/python benchmarks/remote_embed.py                 # K = 1, 4, 8; 100 ms; 512 texts
    .venv/bin/python benchmarks/remote_embed.py --k 1,2,4,8,16 --latency-ms 50 --rounds 5

The K values are measured interleaved, round after round, and the table shows medians (texts/s)
and each K's speed-up over K = 1 in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from cidx.config import EmbeddingConfig  # noqa: E402
from cidx.embed.http_providers import OpenAICompatibleEmbedder  # noqa: E402

DIM = 384


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest() * (DIM // 32)
    return [(b - 128) / 128.0 for b in digest[:DIM]]


class LatencyServer:
    def __init__(self, latency_s: float):
        latency = latency_s
        encoded: dict[str, str] = {}  # text -> its vector as JSON: the server's CPU is not measured

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def do_POST(self):
                started = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                items = []
                for i, text in enumerate(body["input"]):
                    if text not in encoded:
                        encoded[text] = json.dumps(_vector(text))
                    items.append(f'{{"object": "embedding", "index": {i}, "embedding": {encoded[text]}}}')
                payload = ('{"object": "list", "data": [' + ", ".join(items) + "]}").encode()
                time.sleep(max(0.0, latency - (time.monotonic() - started)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops connects at K > 5 (1 s SYN retry)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(latency_ms: float) -> int:
    """--serve: run the server until killed; its URL is the first line on stdout."""
    server = LatencyServer(latency_ms / 1000.0)
    print(server.url, flush=True)
    server.thread.join()
    return 0


def start_server_process(latency_ms: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        proc.wait()
        raise SystemExit("the benchmark server did not start")
    return proc, url


def make_texts(count: int, chars: int) -> list[str]:
    """Chunk-like texts (code lines) of about `chars` characters, all different."""
    line = "    result = compute_value(item, options, retries=3)  # line {i}.{j}\n"
    return ["".join(line.format(i=i, j=j) for j in range(max(1, chars // len(line)))) for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", default="1,4,8", help="max_concurrent_requests values, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--chars", type=int, default=600, help="characters per text (a chunk is <= 800)")
    parser.add_argument("--batch-size", type=int, default=32, help="embedding.batch_size (inputs per request)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.latency_ms)
    ks = [int(k) for k in args.k.split(",")]
    texts = make_texts(args.texts, args.chars)
    server, url = start_server_process(args.latency_ms)
    try:
        embedders = {k: OpenAICompatibleEmbedder(EmbeddingConfig(
            provider="openai", model="bench-model", base_url=url, batch_size=args.batch_size,
            max_concurrent_requests=k)) for k in ks}
        embedders[ks[0]].embed(texts)  # warm-up: imports, the server's encoded vectors
        samples: dict[int, list[float]] = {k: [] for k in ks}
        for _ in range(args.rounds):
            for k in ks:
                started = time.perf_counter()
                out = embedders[k].embed(texts)
                samples[k].append(time.perf_counter() - started)
                assert out.shape == (len(texts), DIM)
    finally:
        server.kill()  # our own child, by its handle
        server.wait()
    requests = -(-len(texts) // args.batch_size)
    print(f"remote embedding: {len(texts)} texts of ~{args.chars} chars, batch_size {args.batch_size} "
          f"({requests} requests), {args.latency_ms:g} ms injected latency, {args.rounds} rounds, medians")
    print(f"{'K':>4} {'seconds':>9} {'texts/s':>9} {'vs K=' + str(ks[0]):>9}")
    base = statistics.median(samples[ks[0]])
    for k in ks:
        median = statistics.median(samples[k])
        print(f"{k:>4} {median:>9.3f} {len(texts) / median:>9.0f} {base / median:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
