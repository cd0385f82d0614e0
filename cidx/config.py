"""`.code-indexer/config.json`: schema, defaults, validation, discovery by walking up.

Stdlib-only on purpose: the fast client path (cidx/entry.py) reads the config to decide whether to
talk to the daemon, and must not pay for heavy imports.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from cidx.fastpath.config import config_digest
from cidx.fastpath.errors import ConfigError

SCHEMA_VERSION = "2.0.0"
CONFIG_DIR_NAME = ".code-indexer"
CONFIG_FILE_NAME = "config.json"

PROVIDERS = ("local", "voyage", "openai")
# the default skip rules of cidx/source/skip_rules.py (kept here: config.py stays import-light)
SKIP_RULE_NAMES = ("lockfile", "source_map", "minified", "svg", "large_data", "generated")
MAX_CONCURRENT_REQUESTS = 64  # more is a denial of service on the user's own server, not a speed-up

DEFAULT_EXCLUDES = (
    ".git/",
    ".code-indexer/",
    "node_modules/",
    "__pycache__/",
    ".venv/",
    "venv/",
    "*.min.js",
    "*.lock",
)


@dataclass(frozen=True)
class DaemonConfig:
    enabled: bool = False
    ttl_minutes: float = 10
    auto_shutdown_on_idle: bool = False
    max_retries: int = 4
    retry_delays_ms: tuple[int, ...] = (100, 500, 1000, 2000)
    eviction_check_interval_seconds: float = 60


@dataclass(frozen=True)
class EmbeddingConfig:
    provider: str = "local"
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = 32
    base_url: str | None = None  # openai-compatible endpoint, e.g. http://localhost:11434/v1
    api_key_env: str | None = None  # env var holding the key; provider default when None
    timeout_seconds: float = 30.0
    max_retries: int = 3
    # HTTP providers only (ADR 0018): requests in flight at once, and characters per request
    max_concurrent_requests: int = 4
    max_request_chars: int = 100_000


@dataclass(frozen=True)
class IndexConfig:
    """What gets indexed beyond git's ignore rules and exclude_patterns: the skip rules (ADR 0018)."""
    disabled_rules: tuple[str, ...] = ()  # skip rules turned off, by reason name
    include: tuple[str, ...] = ()  # gitignore patterns: matching files are exempt from every skip rule
    large_data_bytes: int = 65_536  # JSON/CSV/TSV files larger than this are data, not code


@dataclass(frozen=True)
class Config:
    root: Path  # the repository root: the directory that holds .code-indexer/
    version: str = SCHEMA_VERSION
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    exclude_patterns: tuple[str, ...] = DEFAULT_EXCLUDES
    max_file_size: int = 1_048_576
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    # digest of the bytes this config was loaded from (None: built in code, not read from disk)
    raw_digest: str | None = field(default=None, compare=False, repr=False)

    @property
    def config_dir(self) -> Path:
        return self.root / CONFIG_DIR_NAME

    @property
    def config_path(self) -> Path:
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def index_dir(self) -> Path:
        return self.config_dir / "index"

    def to_json_dict(self) -> dict:
        data = asdict(self)
        data.pop("root")
        data.pop("raw_digest")
        data["exclude_patterns"] = list(self.exclude_patterns)
        data["daemon"]["retry_delays_ms"] = list(self.daemon.retry_delays_ms)
        data["index"] = {"disabled_rules": list(self.index.disabled_rules), "include": list(self.index.include),
                         "large_data_bytes": self.index.large_data_bytes}
        return data

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.to_json_dict(), indent=2) + "\n").encode("utf-8")

    def fingerprint(self) -> str:
        """The handshake's config identity: digest of the file's bytes (cidx/fastpath/config.py)."""
        return self.raw_digest or config_digest(self.to_json_bytes())


def find_config_upward(start: Path | str | None = None) -> Path | None:
    """The nearest `.code-indexer/config.json` at or above `start` (default: cwd), or None."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_DIR_NAME / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(config_path: Path) -> Config:
    """Read and validate a config file; every problem is a one-line ConfigError naming the file."""
    try:
        data = config_path.read_bytes()
        raw = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: not found; run `cidx init`") from None
    except IsADirectoryError:
        raise ConfigError(f"{config_path}: is a directory, not a file; remove it and run `cidx init`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read ({exc.__class__.__name__}); fix or run `cidx init --force`") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{config_path}: invalid JSON at line {exc.lineno} column {exc.colno}; fix it or run `cidx init --force`"
        ) from None
    except RecursionError:
        raise ConfigError(f"{config_path}: JSON nested too deeply; fix it or run `cidx init --force`") from None
    config = config_from_dict(raw, root=config_path.parent.parent, source=str(config_path))
    return replace(config, raw_digest=config_digest(data))


def find_and_load(start: Path | str | None = None) -> Config:
    path = find_config_upward(start)
    if path is None:
        raise ConfigError("no .code-indexer/config.json here or in any parent directory; run `cidx init` first")
    return load_config(path)


def write_config(config: Config) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a config."""
    config.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = config.config_path.with_suffix(".json.tmp")
    tmp.write_bytes(config.to_json_bytes())
    os.replace(tmp, config.config_path)
    return config.config_path


def socket_path_for(config: Config) -> Path:
    """The daemon socket. See cidx/fastpath/socket_path.py for the deep-path fallback."""
    return config.config_dir / "daemon.sock"


# --- validation -------------------------------------------------------------------------------

def _fail(source: str, key: str, why: str) -> ConfigError:
    key = key if len(key) <= 60 else key[:57] + "..."  # an error stays one readable line
    why = why if len(why) <= 200 else why[:197] + "..."
    return ConfigError(f"{source}: `{key}` {why}; fix it or run `cidx init --force`")


def _check_bool(source: str, key: str, value) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, key, "must be true or false")
    return value


def _check_number(source: str, key: str, value, *, minimum: float, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise _fail(source, key, f"must be {'an integer' if integer else 'a number'}")
    if value != value or value < minimum or value > 1e12:  # NaN and absurd values
        raise _fail(source, key, f"must be between {minimum} and 1e12")
    return value


def _check_range(source: str, key: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(source, key, f"must be an integer from {low} to {high}")
    return value


def _section(source: str, raw: dict, name: str) -> dict:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise _fail(source, name, "must be an object")
    return section


def _reject_unknown(source: str, section: dict, known, prefix: str = "") -> None:
    for key in section:
        if key not in known:
            raise _fail(source, prefix + str(key), "is not a known setting")


def _daemon_from(source: str, raw: dict) -> DaemonConfig:
    d = _section(source, raw, "daemon")
    defaults = DaemonConfig()
    _reject_unknown(source, d, DaemonConfig.__dataclass_fields__, "daemon.")
    delays = d.get("retry_delays_ms", list(defaults.retry_delays_ms))
    if not isinstance(delays, list) or not delays or len(delays) > 20:
        raise _fail(source, "daemon.retry_delays_ms", "must be a non-empty list of at most 20 millisecond values")
    delays = tuple(_check_number(source, "daemon.retry_delays_ms", x, minimum=0, integer=True) for x in delays)
    if any(x > 60_000 for x in delays):
        raise _fail(source, "daemon.retry_delays_ms", "values must be at most 60000 ms")
    max_retries = _check_number(source, "daemon.max_retries", d.get("max_retries", defaults.max_retries),
                                minimum=0, integer=True)
    if max_retries > len(delays):
        raise _fail(source, "daemon.max_retries", f"must be at most the number of retry_delays_ms ({len(delays)})")
    return DaemonConfig(
        enabled=_check_bool(source, "daemon.enabled", d.get("enabled", defaults.enabled)),
        ttl_minutes=_check_number(source, "daemon.ttl_minutes", d.get("ttl_minutes", defaults.ttl_minutes),
                                  minimum=0.001),
        auto_shutdown_on_idle=_check_bool(source, "daemon.auto_shutdown_on_idle",
                                          d.get("auto_shutdown_on_idle", defaults.auto_shutdown_on_idle)),
        max_retries=max_retries,
        retry_delays_ms=delays,
        eviction_check_interval_seconds=_check_number(
            source, "daemon.eviction_check_interval_seconds",
            d.get("eviction_check_interval_seconds", defaults.eviction_check_interval_seconds), minimum=0.01),
    )


def _embedding_from(source: str, raw: dict) -> EmbeddingConfig:
    e = _section(source, raw, "embedding")
    defaults = EmbeddingConfig()
    _reject_unknown(source, e, EmbeddingConfig.__dataclass_fields__, "embedding.")
    provider = e.get("provider", defaults.provider)
    if provider not in PROVIDERS:
        raise _fail(source, "embedding.provider", f"is {provider!r}; known providers: {', '.join(PROVIDERS)}")
    for key in ("model",):
        if not isinstance(e.get(key, ""), str) or (key in e and not e[key]):
            raise _fail(source, f"embedding.{key}", "must be a non-empty string")
    for key in ("base_url", "api_key_env"):
        if e.get(key) is not None and not isinstance(e[key], str):
            raise _fail(source, f"embedding.{key}", "must be a string or null")
    base_url = e.get("base_url", defaults.base_url)
    if provider == "openai" and not base_url:
        raise _fail(source, "embedding.base_url", "is required for the openai provider (e.g. http://localhost:11434/v1)")
    return EmbeddingConfig(
        provider=provider,
        model=e.get("model", defaults.model),
        batch_size=_check_number(source, "embedding.batch_size", e.get("batch_size", defaults.batch_size),
                                 minimum=1, integer=True),
        base_url=base_url,
        api_key_env=e.get("api_key_env", defaults.api_key_env),
        timeout_seconds=_check_number(source, "embedding.timeout_seconds",
                                      e.get("timeout_seconds", defaults.timeout_seconds), minimum=0.1),
        max_retries=_check_number(source, "embedding.max_retries", e.get("max_retries", defaults.max_retries),
                                  minimum=0, integer=True),
        max_concurrent_requests=_check_range(
            source, "embedding.max_concurrent_requests",
            e.get("max_concurrent_requests", defaults.max_concurrent_requests), 1, MAX_CONCURRENT_REQUESTS),
        max_request_chars=_check_number(source, "embedding.max_request_chars",
                                        e.get("max_request_chars", defaults.max_request_chars),
                                        minimum=1, integer=True),
    )


def _string_list(source: str, key: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise _fail(source, key, "must be a list of strings")
    return tuple(value)


def _index_from(source: str, raw: dict) -> IndexConfig:
    i = _section(source, raw, "index")
    defaults = IndexConfig()
    _reject_unknown(source, i, IndexConfig.__dataclass_fields__, "index.")
    disabled = _string_list(source, "index.disabled_rules", i.get("disabled_rules", list(defaults.disabled_rules)))
    for name in disabled:
        if name not in SKIP_RULE_NAMES:
            raise _fail(source, "index.disabled_rules", f"names an unknown rule {name!r}; rules: "
                                                        + ", ".join(SKIP_RULE_NAMES))
    return IndexConfig(
        disabled_rules=disabled,
        include=_string_list(source, "index.include", i.get("include", list(defaults.include))),
        large_data_bytes=_check_number(source, "index.large_data_bytes",
                                       i.get("large_data_bytes", defaults.large_data_bytes), minimum=1, integer=True),
    )


def config_from_dict(raw, *, root: Path, source: str = "config.json") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: must be a JSON object; fix it or run `cidx init --force`")
    _reject_unknown(source, raw, {"version", "embedding", "exclude_patterns", "max_file_size", "daemon", "index"})
    version = raw.get("version", SCHEMA_VERSION)
    if not isinstance(version, str) or version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise _fail(source, "version", f"is {version!r}; this cidx reads schema {SCHEMA_VERSION}")
    excludes = raw.get("exclude_patterns", list(DEFAULT_EXCLUDES))
    if not isinstance(excludes, list) or not all(isinstance(p, str) for p in excludes):
        raise _fail(source, "exclude_patterns", "must be a list of strings")
    max_size = _check_number(source, "max_file_size", raw.get("max_file_size", Config.max_file_size),
                             minimum=1, integer=True)
    return Config(
        root=Path(root).absolute(),
        version=SCHEMA_VERSION,
        embedding=_embedding_from(source, raw),
        exclude_patterns=tuple(excludes),
        max_file_size=max_size,
        daemon=_daemon_from(source, raw),
        index=_index_from(source, raw),
    )
