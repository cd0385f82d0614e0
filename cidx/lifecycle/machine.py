"""Shared plumbing: run the table rows of one machine.

Subclasses supply `_guard_<name>()` predicates and `_effect_<name>()` callbacks for the names the
table uses, and expose one public method per event that calls `_fire(event)`.

Two engines execute the same rows. `engine="transitions"` (the default) builds a
`transitions.Machine`. `engine="table"` interprets the rows directly: first matching row whose guards
hold, its effect before the state changes — the semantics we configure transitions with. The table
engine exists for the query fast path, where importing transitions (and the inspect and logging
modules it pulls in) costs ~20 ms of a 50 ms budget (ADR 0008); tests/unit/test_lifecycle_engines.py
proves both engines accept and reject the same event sequences with the same results.
"""

from cidx.lifecycle.errors import LifecycleError
from cidx.lifecycle.table import INITIAL, events_from, rows_for, states_for

ENGINES = ("transitions", "table")


class _Model:
    """What transitions manages. Kept apart from the lifecycle object on purpose: transitions binds
    a method per trigger on its model, which would clash with our own event methods."""

    state: str


class TableMachine:
    MACHINE: str  # "client" or "cache": which rows of the table to build from

    def __init__(self, engine: str = "transitions") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        self.engine = engine
        self._model = _Model()
        if engine == "table":
            self._model.state = INITIAL[self.MACHINE]
            self._rows: dict[tuple[str, str], list] = {}
            for row in rows_for(self.MACHINE):
                self._rows.setdefault((row.source, row.trigger), []).append(row)
            return
        from transitions import Machine

        self._machine = Machine(
            model=self._model,
            states=list(states_for(self.MACHINE)),
            initial=INITIAL[self.MACHINE],
            transitions=[self._spec(row) for row in rows_for(self.MACHINE)],
            auto_transitions=False,  # no implicit to_<state>(): only the table's events exist
            ignore_invalid_triggers=False,  # illegal events raise; _fire turns that into LifecycleError
            name=self.MACHINE,
        )

    def _spec(self, row) -> dict:
        return {
            "trigger": row.trigger,
            "source": row.source,
            # dest None = internal transition: bookkeeping without exit/enter of the same state
            "dest": None if row.source == row.dest else row.dest,
            "conditions": [getattr(self, f"_guard_{name}") for name in row.guard],
            "before": [getattr(self, f"_effect_{row.effect}")] if row.effect else [],
        }

    @property
    def state(self) -> str:
        return self._model.state

    def allowed_events(self) -> tuple[str, ...]:
        """The events the current state accepts."""
        return events_from(self.MACHINE, self.state)

    def _illegal(self, event: str) -> LifecycleError:
        return LifecycleError(self.MACHINE, self.state, event, self.allowed_events())

    def _fire(self, event: str) -> None:
        if event not in self.allowed_events():
            raise self._illegal(event)
        if self.engine == "table":
            self._fire_table(event)
            return
        from transitions import MachineError

        try:
            fired = self._model.trigger(event)
        except MachineError as exc:  # belt and braces: never let MachineError reach a caller
            raise self._illegal(event) from exc
        if not fired:  # impossible while every guarded group ends in an unguarded row
            raise LifecycleError(self.MACHINE, self.state, event,
                                 message=f"{self.MACHINE} lifecycle: no row of {event!r} matched in {self.state!r}")

    def _fire_table(self, event: str) -> None:
        for row in self._rows.get((self.state, event), ()):
            if all(getattr(self, f"_guard_{name}")() for name in row.guard):
                if row.effect:
                    getattr(self, f"_effect_{row.effect}")()  # before the change: if it raises, state stays
                self._model.state = row.dest
                return
        raise LifecycleError(self.MACHINE, self.state, event,
                             message=f"{self.MACHINE} lifecycle: no row of {event!r} matched in {self.state!r}")
