"""Explicit state machines for casualties, units, transports and events.

A lifecycle is data (which moves are legal), so the same table drives the services, the error
messages, the protocol reference and the tests that walk every legal and illegal move.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class IllegalTransition(Exception):
    """A state change the lifecycle does not allow; the message names both states."""

    def __init__(self, lifecycle: str, current: str, requested: str) -> None:
        self.lifecycle = lifecycle
        self.current = current
        self.requested = requested
        super().__init__(f"{lifecycle}: cannot go from '{current}' to '{requested}'")


@dataclass(frozen=True)
class Lifecycle:
    name: str
    moves: Mapping[str, frozenset[str]]
    initial: str

    @classmethod
    def build(cls, name: str, initial: str, moves: Mapping[str, Iterable[str]]) -> "Lifecycle":
        states = set(moves) | {target for targets in moves.values() for target in targets}
        complete = {state: frozenset(moves.get(state, ())) for state in states}
        return cls(name=name, moves=complete, initial=initial)

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self.moves)

    def allows(self, current: str, requested: str) -> bool:
        return requested in self.moves.get(current, frozenset())

    def check(self, current: str, requested: str) -> None:
        if requested not in self.moves:
            raise ValueError(f"{self.name}: unknown state '{requested}'")
        if not self.allows(current, requested):
            raise IllegalTransition(self.name, current, requested)
