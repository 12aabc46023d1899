from hub.lifecycle import Lifecycle

# A pre-arrival notice: the screen marks it received when it shows it (optional) and
# acknowledged when staff press Acknowledge; the hub sets arrived when the unit reports
# at_hospital (acknowledged or not: an ambulance does not wait for a click) and handed_over
# when the hospital accepts the handover. A cancelled transport cancels its notice.
NOTICE_LIFECYCLE = Lifecycle.build(
    "pre-arrival notice state",
    initial="sent",
    moves={
        "sent": {"received", "acknowledged", "arrived", "cancelled"},
        "received": {"acknowledged", "arrived", "cancelled"},
        "acknowledged": {"arrived", "cancelled"},
        "arrived": {"handed_over"},
        "handed_over": set(),
        "cancelled": set(),
    },
)
