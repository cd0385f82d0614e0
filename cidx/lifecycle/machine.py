"""Shared plumbing: build a `transitions.Machine` from the table rows of one machine.

Subclasses supply `_guard_<name>()` predicates and `_effect_<name>()` callbacks for the names the
table uses, and expose one public method per event that calls `_fire(event)`.
"""

from __future__ import annotations

from transitions import Machine, MachineError

from cidx.lifecycle.errors import LifecycleError
from cidx.lifecycle.table import INITIAL, events_from, rows_for, states_for


class _Model:
    """What transitions manages. Kept apart from the lifecycle object on purpose: transitions binds
    a method per trigger on its model, which would clash with our own event methods."""

    state: str


class TableMachine:
    MACHINE: str  # "client" or "cache": which rows of the table to build from

    def __init__(self) -> None:
        self._model = _Model()
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
        try:
            fired = self._model.trigger(event)
        except MachineError as exc:  # belt and braces: never let MachineError reach a caller
            raise self._illegal(event) from exc
        if not fired:  # impossible while every guarded group ends in an unguarded row
            raise LifecycleError(self.MACHINE, self.state, event,
                                 message=f"{self.MACHINE} lifecycle: no row of {event!r} matched in {self.state!r}")
