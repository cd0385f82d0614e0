import json
from pathlib import Path

import pytest

from cidx.config import (Config, DaemonConfig, EmbeddingConfig, config_from_dict, find_config_upward, load_config,
                         write_config)
from cidx.fastpath.errors import ConfigError


def test_round_trip_keeps_every_setting(tmp_path):
    config = Config(root=tmp_path,
                    embedding=EmbeddingConfig(provider="openai", model="m", batch_size=8, base_url="http://x/v1"),
                    exclude_patterns=("*.gen.py",), max_file_size=1234,
                    daemon=DaemonConfig(enabled=True, ttl_minutes=3, auto_shutdown_on_idle=True, max_retries=2,
                                        retry_delays_ms=(10, 20), eviction_check_interval_seconds=5))
    path = write_config(config)
    assert load_config(path) == config
    raw = json.loads(path.read_text())
    assert raw["version"] == "2.0.0"
    assert raw["daemon"] == {"enabled": True, "ttl_minutes": 3, "auto_shutdown_on_idle": True, "max_retries": 2,
                             "retry_delays_ms": [10, 20], "eviction_check_interval_seconds": 5}


def test_defaults_match_the_spec(tmp_path):
    d = config_from_dict({"version": "2.0.0"}, root=tmp_path).daemon
    assert (d.ttl_minutes, d.max_retries, d.retry_delays_ms, d.eviction_check_interval_seconds) == \
        (10, 4, (100, 500, 1000, 2000), 60)


def test_remote_concurrency_defaults_and_round_trip(tmp_path):
    e = config_from_dict({}, root=tmp_path).embedding
    assert (e.max_concurrent_requests, e.max_request_chars) == (4, 100_000)
    config = Config(root=tmp_path, embedding=EmbeddingConfig(max_concurrent_requests=8, max_request_chars=5000))
    assert load_config(write_config(config)).embedding == config.embedding


def test_found_walking_up_from_a_subdirectory(tmp_path):
    write_config(Config(root=tmp_path))
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config_upward(deep) == tmp_path / ".code-indexer" / "config.json"
    assert find_config_upward(tmp_path.parent) is None


@pytest.mark.parametrize("raw, fragment", [
    ([], "must be a JSON object"),
    ({"version": "1.0.0"}, "`version`"),
    ({"embedding": {"provider": "nope"}}, "known providers"),
    ({"embedding": {"provider": "openai"}}, "base_url"),
    ({"daemon": {"ttl_minutes": "ten"}}, "daemon.ttl_minutes"),
    ({"daemon": {"ttl_minutes": -1}}, "daemon.ttl_minutes"),
    ({"daemon": {"enabled": "yes"}}, "daemon.enabled"),
    ({"daemon": {"retry_delays_ms": []}}, "retry_delays_ms"),
    ({"daemon": {"retry_delays_ms": [1, 2], "max_retries": 3}}, "max_retries"),
    ({"daemon": {"bogus": 1}}, "daemon.bogus"),
    ({"max_file_size": 0}, "max_file_size"),
    ({"exclude_patterns": "x"}, "exclude_patterns"),
    ({"surprise": True}, "surprise"),
    ({"embedding": {"max_concurrent_requests": 0}}, "embedding.max_concurrent_requests"),
    ({"embedding": {"max_concurrent_requests": 65}}, "from 1 to 64"),
    ({"embedding": {"max_concurrent_requests": 2.5}}, "embedding.max_concurrent_requests"),
    ({"embedding": {"max_request_chars": 0}}, "embedding.max_request_chars"),
])
def test_invalid_settings_give_one_line_naming_the_key(tmp_path, raw, fragment):
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, root=tmp_path, source="cfg.json")
    message = str(err.value)
    assert fragment in message and "\n" not in message and message.startswith("cfg.json")


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / ".code-indexer" / "config.json"
    path.parent.mkdir()
    path.write_text('{"version": "2.0.0",\n  oops}')
    with pytest.raises(ConfigError, match=r"config.json: invalid JSON at line 2"):
        load_config(path)


def test_fingerprint_changes_with_settings(tmp_path):
    a = Config(root=tmp_path)
    b = Config(root=tmp_path, daemon=DaemonConfig(ttl_minutes=1))
    assert a.fingerprint() == Config(root=Path(tmp_path)).fingerprint()
    assert a.fingerprint() != b.fingerprint()
