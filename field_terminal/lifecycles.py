from hub.lifecycle import Lifecycle

# A casualty enters as reported; with a transportable category it joins the transport queue at
# once. An expectant (black) casualty waits on scene: it leaves the queue if re-triaged black.
CASUALTY_LIFECYCLE = Lifecycle.build(
    "casualty status",
    initial="reported",
    moves={
        "reported": {"awaiting_transport", "treated_on_scene", "deceased"},
        "awaiting_transport": {"assigned", "reported", "treated_on_scene", "deceased"},
        "assigned": {"awaiting_transport", "en_route", "deceased"},
        "en_route": {"arrived", "deceased"},
        "arrived": {"handed_over", "deceased"},
        "treated_on_scene": {"awaiting_transport", "deceased"},
        "handed_over": set(),
        "deceased": set(),
    },
)
