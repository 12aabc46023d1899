from hub.lifecycle import Lifecycle

_UNIT_MOVES: dict[str, set[str]] = {
    "available": {"dispatched"},
    "dispatched": {"on_scene", "available"},
    "on_scene": {"transporting"},
    "transporting": {"at_hospital"},
    "at_hospital": {"returning", "available"},
    "returning": {"available", "dispatched"},
    "out_of_service": {"available"},
}
# PROTOCOL.md: any state may go out of service.
for _state, _targets in _UNIT_MOVES.items():
    if _state != "out_of_service":
        _targets.add("out_of_service")

UNIT_LIFECYCLE = Lifecycle.build("unit status", initial="available", moves=_UNIT_MOVES)

TRANSPORT_LIFECYCLE = Lifecycle.build(
    "transport status",
    initial="assigned",
    moves={
        "assigned": {"on_scene", "cancelled"},
        "on_scene": {"departed", "cancelled"},
        "departed": {"arrived"},
        "arrived": {"handed_over"},
        "handed_over": set(),
        "cancelled": set(),
    },
)
