"""The roles of the hub, as Django groups, and the terminal kind each one works at."""

ROLE_TERMINAL_KIND = {
    "dispatcher": "command",
    "field medic": "field",
    "ambulance crew": "ambulance",
    "hospital staff": "hospital",
    "remote expert": "expert",
    "administrator": "command",
}
