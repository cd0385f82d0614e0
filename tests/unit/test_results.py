"""QueryResult on the wire (nested plain tuples) and as the documented --json output."""

import json

import pytest

from cidx.fastpath.results import Hit, QueryResult

RESULT = QueryResult("hybrid", 7, (
    Hit("src/a.py", 1, 9, "python", 0.8125, "semantic+fts", "def a():\n    return 'é'", 1, 2),
    Hit("b.go", 3, 4, "go", 1.0, "fts", "", 0, 0),
), {"embed": 4.5, "search": 0.25})


def _plain(value) -> bool:
    if type(value) is tuple:
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_wire_form_is_plain_tuples_and_round_trips():
    wire = RESULT.to_wire()
    assert _plain(wire)
    assert QueryResult.from_wire(wire) == RESULT


@pytest.mark.parametrize("junk", [None, "x", (), ("fts", 1, "not hits", ()), ("fts", 1, ((1, 2),), ())])
def test_malformed_wire_is_a_value_error(junk):
    with pytest.raises(ValueError, match="malformed query result"):
        QueryResult.from_wire(junk)


def test_user_json_has_the_documented_keys():
    doc = json.loads(RESULT.to_user_json())
    assert doc["mode"] == "hybrid" and doc["generation"] == 7
    assert doc["hits"][0] == {"path": "src/a.py", "start_line": 1, "end_line": 9, "line": 2, "language": "python",
                              "score": 0.8125, "source": "semantic+fts", "snippet": "def a():\n    return 'é'"}
    assert doc["hits"][1]["line"] == 3  # no match line: the chunk's first line
    assert RESULT.to_user_json() == json.dumps(doc, indent=2)
