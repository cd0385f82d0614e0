"""Immutable records with named fields, like collections.namedtuple, without importing collections.

The query fast path's records (QueryParams, Hit, QueryResult, the lifecycle rows...) were
namedtuples, and `import collections` alone costs a fresh interpreter ~1.5 ms, 7% of a warm
`cidx query` (ADR 0009). `record()` builds the same kind of class: a tuple subclass with `_fields`,
`_field_defaults`, `_make`, `_replace`, `_asdict`, keyword and default arguments, and the same
repr. It skips what we do not use (rename=, __match_args__ ordering subtleties aside).
tests/unit/test_record.py checks it against collections.namedtuple on generated calls.
"""

import sys
from _operator import itemgetter

_MISSING = object()


def record(typename: str, field_names: str, *, defaults: tuple = ()):
    """A tuple subclass named `typename` with the space-separated `field_names`; `defaults` apply
    to the rightmost fields, as in namedtuple."""
    fields = tuple(field_names.split())
    n = len(fields)
    if len(set(fields)) != n or any(not f.isidentifier() or f.startswith("_") for f in fields):
        raise ValueError(f"bad field names for {typename}: {field_names!r}")
    defaults = tuple(defaults)
    if len(defaults) > n:
        raise TypeError("Got more default values than field names")
    first_default = n - len(defaults)
    position = {name: i for i, name in enumerate(fields)}
    tuple_new = tuple.__new__

    def __new__(cls, *args, **kwargs):
        if not kwargs and len(args) == n:
            return tuple_new(cls, args)
        if len(args) > n:
            raise TypeError(f"{typename}() takes {n} arguments but {len(args)} were given")
        values = list(args) + [_MISSING] * (n - len(args))
        for key, value in kwargs.items():
            i = position.get(key)
            if i is None:
                raise TypeError(f"{typename}() got an unexpected keyword argument {key!r}")
            if values[i] is not _MISSING:
                raise TypeError(f"{typename}() got multiple values for argument {key!r}")
            values[i] = value
        for i in range(n):
            if values[i] is _MISSING:
                if i < first_default:
                    raise TypeError(f"{typename}() missing required argument: {fields[i]!r}")
                values[i] = defaults[i - first_default]
        return tuple_new(cls, values)

    def _make(cls, iterable):
        result = tuple_new(cls, iterable)
        if len(result) != n:
            raise TypeError(f"Expected {n} arguments, got {len(result)}")
        return result

    def _replace(self, **changes):
        result = self._make([changes.pop(name, value) for name, value in zip(fields, self)])
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return result

    def __repr__(self):
        return f"{self.__class__.__name__}({', '.join(f'{k}={v!r}' for k, v in zip(fields, self))})"

    def _asdict(self):
        return dict(zip(fields, self))

    def __getnewargs__(self):
        return tuple(self)

    namespace = {
        "__doc__": f"{typename}({', '.join(fields)})",
        "__slots__": (),
        "_fields": fields,
        "_field_defaults": dict(zip(fields[first_default:], defaults)),
        "__new__": __new__,
        "_make": classmethod(_make),
        "_replace": _replace,
        "__repr__": __repr__,
        "_asdict": _asdict,
        "__getnewargs__": __getnewargs__,
        "__match_args__": fields,
    }
    for i, name in enumerate(fields):
        namespace[name] = property(itemgetter(i), doc=f"Alias for field number {i}")
    cls = type(typename, (tuple,), namespace)
    cls.__module__ = sys._getframe(1).f_globals.get("__name__", "__main__")  # as namedtuple: for pickle
    return cls
