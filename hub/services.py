"""Writes of the hub itself: terminals and their tokens, audit entries, media files, notes."""

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from field_terminal.services import casualty_media_attach, casualty_note_add
from hub.errors import Forbidden, Invalid
from hub.journal import StoredMessage, journal_append
from hub.media_types import sniff_media_type
from hub.models import AuditEntry, MediaFile, Terminal
from hub.schemas import Media, Note
from hub.topics import TopicRef
from teleconsult.services import consult_chat_to_record, consult_media_to_record

# One fixed advisory lock orders appends to the audit chain across every process.
_AUDIT_CHAIN_LOCK = 0x4D4349_41554454
AUDIT_GENESIS_HASH = "0" * 64


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    terminal: Terminal
    token: str
    created: bool


def terminal_token_issue(
    *, kind: str, name: str, event: Any = None, unit: Any = None, hospital: Any = None,
    issued_by: str = "admin",
) -> IssuedToken:
    """Create the terminal or rotate its token; the old token stops working at once."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        terminal = Terminal.objects.select_for_update().filter(name=name).first()
        created = terminal is None
        if terminal is None:
            terminal = Terminal(name=name, kind=kind)
        elif terminal.kind != kind:
            raise Invalid(f"kind: terminal {name} is a {terminal.kind} terminal, not {kind}")
        terminal.event = event if event is not None else terminal.event
        terminal.unit = unit if unit is not None else terminal.unit
        terminal.hospital = hospital if hospital is not None else terminal.hospital
        terminal.token_hash = token_hash(token)
        terminal.token_issued_at = timezone.now()
        terminal.revoked_at = None
        terminal.full_clean(exclude=["token_hash", "user"])
        terminal.save()
        audit_record(
            actor=issued_by, action="token.issue" if created else "token.rotate",
            target=terminal.topic, detail={"kind": kind},
        )
    return IssuedToken(terminal=terminal, token=token, created=created)


def terminal_token_revoke(*, name: str, revoked_by: str = "admin") -> Terminal:
    with transaction.atomic():
        terminal = Terminal.objects.select_for_update().get(name=name)
        terminal.token_hash = None
        terminal.revoked_at = timezone.now()
        terminal.save(update_fields=["token_hash", "revoked_at"])
        audit_record(actor=revoked_by, action="token.revoke", target=terminal.topic)
    return terminal


def audit_digest(previous_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON (hub.audit re-checks it)."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous_hash + canonical).encode()).hexdigest()


def audit_record(
    *, actor: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Append to the tamper-evident audit chain: each entry hashes the one before it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_CHAIN_LOCK])
        last = AuditEntry.objects.order_by("-id").only("hash").first()
        previous_hash = last.hash if last is not None else AUDIT_GENESIS_HASH
        at = timezone.now()
        fields = {"actor": actor, "action": action, "target": target,
                  "detail": detail or {}, "at": at.isoformat()}
        return AuditEntry.objects.create(
            actor=actor, action=action, target=target, detail=detail or {}, at=at,
            previous_hash=previous_hash, hash=audit_digest(previous_hash, fields),
        )


def media_store(
    *, terminal: Terminal, upload: UploadedFile, max_bytes: int, declared_kind: str | None = None
) -> MediaFile:
    """Keep an uploaded file after checking what it really is (by its bytes) and its size."""
    if upload.size is None or upload.size == 0:
        raise Invalid("file: is empty")
    if upload.size > max_bytes:
        raise Invalid(f"file: is {upload.size} bytes; the limit is {max_bytes}")
    head = upload.read(64)
    upload.seek(0)
    sniffed = sniff_media_type(head)
    if sniffed is None:
        raise Invalid("file: is not an accepted image, audio or video type")
    if declared_kind is not None and declared_kind not in sniffed.kinds:
        raise Invalid(f"kind: the file is {sniffed.content_type}, not {declared_kind}")
    kind = declared_kind or sniffed.kind
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    media = MediaFile(
        kind=kind, content_type=sniffed.content_type, extension=sniffed.extension,
        size=upload.size, sha256=digest.hexdigest(), original_name=(upload.name or "")[:200],
        uploaded_by=terminal, uploaded_at=timezone.now(),
    )
    media.file.save(f"{media.id}{sniffed.extension}", upload, save=False)
    media.save()
    return media


def note_post(
    *, terminal: Terminal, topic: TopicRef, client_id: str, payload: Note
) -> StoredMessage:
    with transaction.atomic():
        message = journal_append(
            topic=str(topic), type="note", data={"text": payload.text}, terminal=terminal,
            client_id=client_id,
        )
        if topic.kind == "casualty":
            casualty_note_add(
                casualty_id=topic.key, author=terminal.name, text=payload.text,
                journal_seq=message.seq, written_at=message.stored_at,
            )
        elif topic.kind == "consult":
            consult_chat_to_record(consult_id=topic.key, author=terminal.name, text=payload.text)
        return message


def media_share(
    *, terminal: Terminal, topic: TopicRef, client_id: str, payload: Media
) -> StoredMessage:
    media_id = _media_uuid(payload.media)
    media = MediaFile.objects.filter(pk=media_id).first() if media_id else None
    if media is None:
        raise Invalid("data.media: no uploaded file has this id")
    if media.kind != payload.kind:
        raise Invalid(f"data.kind: the uploaded file is {media.kind}, not {payload.kind}")
    if media.uploaded_by_id != terminal.pk and terminal.kind != "command":
        raise Forbidden("data.media: the file was uploaded by another terminal")
    with transaction.atomic():
        data: dict[str, Any] = {
            "media": str(media.pk), "kind": media.kind, "content_type": media.content_type,
            "size": media.size, "sha256": media.sha256, "url": f"/api/v1/media/{media.pk}",
        }
        if payload.caption:
            data["caption"] = payload.caption
        message = journal_append(
            topic=str(topic), type="media", data=data, terminal=terminal, client_id=client_id
        )
        if topic.kind == "casualty":
            casualty_media_attach(
                casualty_id=topic.key, media=media, caption=payload.caption or "",
                attached_by=terminal.name, journal_seq=message.seq,
                attached_at=message.stored_at,
            )
        elif topic.kind == "consult":
            consult_media_to_record(consult_id=topic.key, media=media,
                                    caption=payload.caption or "", author=terminal.name)
        return message


def _media_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
