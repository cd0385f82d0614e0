"""cidx.fastpath.lightjson must read and write exactly what the json package does, for the values we use."""

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cidx.fastpath import lightjson

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(values)
def test_dumps_is_byte_identical_to_json_with_indent_2(value):
    assert lightjson.dumps(value) == json.dumps(value, indent=2)


@given(values, st.sampled_from(["", " ", "\n\t ", "\r\n"]))
def test_loads_reads_what_json_writes(value, padding):
    text = padding + json.dumps(value) + padding
    assert _same(lightjson.loads(text), json.loads(text))


@given(st.text(alphabet='{}[]",:0123456789.eE+-truefalsnNIy \\u\n', max_size=30))
def test_loads_accepts_and_rejects_exactly_what_json_does(text):
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError):
        with pytest.raises(ValueError):
            lightjson.loads(text)
    else:
        assert _same(lightjson.loads(text), expected)


@pytest.mark.parametrize("text", ["", "   ", "{} {}", '{"a": 1', "\ufeff{}", "[1,]", "nul"])
def test_bad_text_is_a_value_error(text):
    with pytest.raises(ValueError):
        lightjson.loads(text)


def test_tuples_are_written_as_lists_and_other_types_refused():
    assert lightjson.dumps({"hits": ({"a": 1},)}) == json.dumps({"hits": [{"a": 1}]}, indent=2)
    with pytest.raises(TypeError):
        lightjson.dumps({1: "non-string key"})
    with pytest.raises(TypeError):
        lightjson.dumps(object())


def test_bad_text_is_a_value_error_even_before_json_is_imported():
    # The C scanner needs json.decoder in sys.modules to raise its error; the fast path has not
    # imported json (this runs in a fresh interpreter to make sure of that).
    code = ("import sys\n"
            "from cidx.fastpath import lightjson\n"
            "assert 'json' not in sys.modules\n"
            "for text in ('{not json', '{} {}', '[1,]'):\n"
            "    try:\n"
            "        lightjson.loads(text)\n"
            "    except ValueError as exc:\n"
            "        print(type(exc).__name__, exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "JSONDecodeError Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "JSONDecodeError Extra data: line 1 column 4 (char 3)",
        "JSONDecodeError Expecting value: line 1 column 4 (char 3)",
    ]
