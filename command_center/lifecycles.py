from hub.lifecycle import Lifecycle

EVENT_LIFECYCLE = Lifecycle.build(
    "event status",
    initial="planned",
    moves={"planned": {"active", "closed"}, "active": {"closed"}, "closed": set()},
)
