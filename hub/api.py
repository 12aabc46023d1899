"""REST API under /api/v1/: map layers (GeoJSON), records, and the media upload of PROTOCOL.md.

Every list is filtered by the same rules as the socket's topics (hub.permissions), so an
object is visible here exactly to the terminals that may subscribe to its topic.
"""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.pagination import GeoJsonPagination
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from ambulance.models import Transport, Unit
from command_center.models import MassEvent
from field_terminal.models import Casualty
from hospital_intake.models import Hospital
from hub import permissions
from hub.authentication import request_terminal
from hub.errors import Invalid
from hub.models import MediaFile, Terminal
from hub.services import audit_record, media_store


def _terminal(request: Request) -> Terminal:
    terminal = request_terminal(request)
    assert terminal is not None  # IsTerminal ran first
    return terminal


class EventSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = MassEvent
        geo_field = "venue_area"
        fields = ["slug", "name", "name_zh", "status", "is_exercise", "auto_dispatch",
                  "starts_at", "ends_at"]


class CasualtySerializer(GeoFeatureModelSerializer):
    event: serializers.SlugRelatedField[MassEvent] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    reported_by: serializers.SlugRelatedField[Terminal] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    # A drill's casualty says so wherever its record travels.
    exercise = serializers.BooleanField(source="event.is_exercise", read_only=True)

    class Meta:
        model = Casualty
        geo_field = "location"
        fields = ["id", "event", "exercise", "tag", "category", "triage_method", "age_group",
                  "sex", "complaint", "needs", "status", "reported_by", "reported_at",
                  "status_changed_at"]


class UnitSerializer(GeoFeatureModelSerializer):
    station: serializers.SlugRelatedField[Unit] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Unit
        geo_field = "position"
        fields = ["callsign", "level", "capacity", "status", "station", "position_at",
                  "heading", "speed"]


class HospitalSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Hospital
        geo_field = "location"
        fields = ["code", "name", "name_zh", "capabilities", "beds_red", "beds_yellow",
                  "beds_green", "diversion", "capacity_note", "capacity_updated_at"]


class TransportSerializer(serializers.ModelSerializer):
    unit: serializers.SlugRelatedField[Unit] = serializers.SlugRelatedField(
        slug_field="callsign", read_only=True
    )
    hospital: serializers.SlugRelatedField[Hospital] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Transport
        fields = ["id", "casualty", "unit", "hospital", "status", "assigned_by", "assigned_at",
                  "on_scene_at", "departed_at", "arrived_at", "handed_over_at", "cancelled_at",
                  "eta"]


class EventList(generics.ListAPIView):
    serializer_class = EventSerializer
    pagination_class = GeoJsonPagination

    def get_queryset(self) -> QuerySet[MassEvent]:
        terminal = _terminal(self.request)
        if terminal.kind == "command" and terminal.event_id is None:
            return MassEvent.objects.all()
        if terminal.event_id is None:
            return MassEvent.objects.none()
        # A terminal sees the event it works in (its map needs the venue); the operational
        # picture of the event topic stays with command.
        return MassEvent.objects.filter(pk=terminal.event_id)


class CasualtyList(generics.ListAPIView):
    serializer_class = CasualtySerializer
    pagination_class = GeoJsonPagination

    def get_queryset(self) -> QuerySet[Casualty]:
        terminal = _terminal(self.request)
        queryset = (
            Casualty.objects.filter(permissions.casualty_readable_filter(terminal))
            .select_related("event", "reported_by").distinct().order_by("-reported_at")
        )
        status_filter = self.request.query_params.get("status")
        if status_filter:
            queryset = queryset.filter(status__in=status_filter.split(","))
        event = self.request.query_params.get("event")
        if event:
            queryset = queryset.filter(event__slug=event)
        return queryset


class CasualtyDetail(generics.RetrieveAPIView):
    serializer_class = CasualtySerializer
    lookup_field = "pk"

    def get_queryset(self) -> QuerySet[Casualty]:
        terminal = _terminal(self.request)
        return Casualty.objects.filter(
            permissions.casualty_readable_filter(terminal)
        ).distinct()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        audit_record(actor=_terminal(request).name, action="casualty.read",
                     target=f"casualty:{kwargs['pk']}", detail={"via": "api"})
        return response


class UnitList(generics.ListAPIView):
    serializer_class = UnitSerializer
    pagination_class = GeoJsonPagination

    def get_queryset(self) -> QuerySet[Unit]:
        return (
            Unit.objects.filter(permissions.unit_readable_filter(_terminal(self.request)))
            .select_related("station").distinct()
        )


class HospitalList(generics.ListAPIView):
    serializer_class = HospitalSerializer
    pagination_class = GeoJsonPagination

    def get_queryset(self) -> QuerySet[Hospital]:
        return Hospital.objects.filter(
            permissions.hospital_readable_filter(_terminal(self.request))
        )


class TransportList(generics.ListAPIView):
    serializer_class = TransportSerializer

    def get_queryset(self) -> QuerySet[Transport]:
        terminal = _terminal(self.request)
        readable = Casualty.objects.filter(permissions.casualty_readable_filter(terminal))
        queryset = Transport.objects.filter(casualty__in=readable.values("pk"))
        if terminal.kind == "hospital" and terminal.hospital_id is not None:
            queryset = queryset.filter(hospital_id=terminal.hospital_id)
        elif terminal.kind == "ambulance" and terminal.unit_id is not None:
            queryset = queryset.filter(unit_id=terminal.unit_id)
        return queryset.select_related("unit", "hospital").order_by("-assigned_at")


class MediaUpload(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=inline_serializer("MediaUploadRequest", {
            "file": serializers.FileField(),
            "kind": serializers.ChoiceField(["image", "audio", "video"], required=False),
        }),
        responses={201: inline_serializer("MediaUploadResponse", {
            "id": serializers.UUIDField(), "sha256": serializers.CharField(),
            "url": serializers.CharField(), "kind": serializers.CharField(),
            "content_type": serializers.CharField(), "size": serializers.IntegerField(),
        })},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"error": "file: is required (multipart field 'file')"},
                            status=status.HTTP_400_BAD_REQUEST)
        declared = request.POST.get("kind") or None
        if declared is not None and declared not in ("image", "audio", "video"):
            return Response({"error": "kind: must be one of image, audio, video"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            media = media_store(terminal=_terminal(request), upload=upload,
                                max_bytes=settings.MEDIA_MAX_BYTES, declared_kind=declared)
        except Invalid as error:
            code = (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if "limit" in error.message
                    else status.HTTP_400_BAD_REQUEST)
            return Response({"error": error.message}, status=code)
        return Response(
            {"id": str(media.pk), "sha256": media.sha256, "url": f"/api/v1/media/{media.pk}",
             "kind": media.kind, "content_type": media.content_type, "size": media.size},
            status=status.HTTP_201_CREATED,
        )


class MediaDownload(APIView):
    """A stored file, to a terminal that uploaded it or may read a record it is attached to."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, media_id: str) -> FileResponse:
        terminal = _terminal(request)
        media = MediaFile.objects.filter(pk=media_id).first()
        if media is None:
            raise Http404
        readable = Casualty.objects.filter(permissions.casualty_readable_filter(terminal))
        allowed = (
            media.uploaded_by_id == terminal.pk
            or terminal.kind == "command"
            or media.attachments.filter(casualty__in=readable.values("pk")).exists()
        )
        if not allowed:
            raise Http404
        return FileResponse(media.file.open("rb"), content_type=media.content_type)
