"""What an uploaded file really is, from its first bytes (never from its name or header)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SniffedType:
    content_type: str
    extension: str
    kinds: tuple[str, ...]

    @property
    def kind(self) -> str:
        return self.kinds[0]


def sniff_media_type(head: bytes) -> SniffedType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return SniffedType("image/jpeg", ".jpg", ("image",))
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return SniffedType("image/png", ".png", ("image",))
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return SniffedType("image/webp", ".webp", ("image",))
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return SniffedType("audio/wav", ".wav", ("audio",))
    if head.startswith(b"OggS"):
        return SniffedType("audio/ogg", ".ogg", ("audio",))
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return SniffedType("audio/mpeg", ".mp3", ("audio",))
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # Matroska/WebM carries video or audio alone; the caller's declared kind decides.
        return SniffedType("video/webm", ".webm", ("video", "audio"))
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return SniffedType("audio/mp4", ".m4a", ("audio",))
        if brand == b"qt  ":
            return SniffedType("video/quicktime", ".mov", ("video",))
        return SniffedType("video/mp4", ".mp4", ("video", "audio"))
    return None
