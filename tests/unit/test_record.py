"""cidx.fastpath.record.record behaves like collections.namedtuple for everything cidx does with records."""

import pickle
from collections import namedtuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cidx.fastpath.record import record

FIELDS = "path start_line score source"
DEFAULTS = ("fts",)
Ours = record("Point", FIELDS, defaults=DEFAULTS)
Theirs = namedtuple("Point", FIELDS, defaults=DEFAULTS)

names = st.sampled_from(["path", "start_line", "score", "source", "bogus"])
values = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.floats(allow_nan=False))


def build(cls, args, kwargs):
    try:
        return ("ok", tuple(cls(*args, **kwargs)))
    except TypeError:
        return ("TypeError",)


@given(st.lists(values, max_size=5), st.dictionaries(names, values, max_size=3))
def test_construction_matches_namedtuple(args, kwargs):
    assert build(Ours, args, kwargs) == build(Theirs, args, kwargs)


@given(st.lists(values, min_size=4, max_size=4), st.dictionaries(names, values, max_size=3))
def test_replace_asdict_repr_and_equality_match_namedtuple(args, changes):
    ours, theirs = Ours(*args), Theirs(*args)
    assert ours == theirs and hash(ours) == hash(theirs) and repr(ours) == repr(theirs)
    assert ours._asdict() == theirs._asdict()
    assert [getattr(ours, f) for f in ours._fields] == [getattr(theirs, f) for f in theirs._fields]
    try:
        expected = ("ok", tuple(theirs._replace(**changes)))
    except ValueError:
        expected = ("ValueError",)
    try:
        got = ("ok", tuple(ours._replace(**changes)))
    except ValueError:
        got = ("ValueError",)
    assert got == expected


def test_class_attributes_match_namedtuple():
    assert Ours._fields == Theirs._fields and Ours._field_defaults == Theirs._field_defaults
    assert Ours.__match_args__ == Theirs.__match_args__
    assert Ours._make(["a", 1, 0.5, "x"]) == Theirs._make(["a", 1, 0.5, "x"])
    with pytest.raises(TypeError):
        Ours._make(["a"])
    with pytest.raises(AttributeError):
        Ours("a", 1, 0.5).path = "b"  # immutable, and no __dict__ to grow
    with pytest.raises(AttributeError):
        Ours("a", 1, 0.5).other = 1


class Sub(record("_SubBase", "text limit", defaults=(10,))):
    __slots__ = ()

    def doubled(self):
        return self.limit * 2


def test_subclass_keeps_its_type_through_replace_and_pickles():
    s = Sub("x")
    assert s.doubled() == 20 and repr(s) == "Sub(text='x', limit=10)"
    assert type(s._replace(limit=3)) is Sub and s._replace(limit=3).limit == 3
    assert pickle.loads(pickle.dumps(s)) == s and type(pickle.loads(pickle.dumps(s))) is Sub


@pytest.mark.parametrize("fields", ["a a", "a _b", "a 1b", "a b-c"])
def test_bad_field_names_are_refused(fields):
    with pytest.raises(ValueError):
        record("Bad", fields)
