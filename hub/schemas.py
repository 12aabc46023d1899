from typing import Annotated

from hub.payloads import Payload, one_of
from hub.payloads import text as text_rule


class Note(Payload):
    text: Annotated[str, text_rule(4000)]


class Media(Payload):
    """A reference to a file stored by `POST /api/v1/media/`."""

    media: Annotated[str, text_rule(64)]
    kind: Annotated[str, one_of("image", "audio", "video")]
    caption: Annotated[str | None, text_rule(500)] = None
