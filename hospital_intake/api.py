"""REST views for hospital systems: the FHIR R4 record of a casualty and EDXL-HAVE capacity.

Visibility is the casualty's (hub.permissions.casualty_readable_filter), so a hospital system
sees exactly the records its receiving screen may subscribe to; every read is audited.
"""

import json
import uuid
from typing import Any

from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from pydantic import ValidationError
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from field_terminal.models import Casualty
from hospital_intake.fhir import FHIR_CONTENT_TYPE, casualty_bundle
from hospital_intake.have import CONTENT_TYPE as HAVE_CONTENT_TYPE
from hospital_intake.have import have_capacity_parse, hospital_have_xml
from hospital_intake.models import HandoverBundle, Hospital
from hospital_intake.services import hospital_capacity_update
from hub import permissions
from hub.authentication import request_terminal
from hub.errors import Invalid
from hub.models import Terminal
from hub.services import audit_record


def _terminal(request: Request) -> Terminal:
    terminal = request_terminal(request)
    assert terminal is not None  # IsTerminal ran first
    return terminal


def _readable_casualty(terminal: Terminal, pk: str) -> Casualty:
    casualty = (Casualty.objects.filter(permissions.casualty_readable_filter(terminal), pk=pk)
                .distinct().first())
    if casualty is None:
        raise Http404
    return casualty


def _fhir_response(body: dict[str, object]) -> HttpResponse:
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type=FHIR_CONTENT_TYPE)


class CasualtyFhir(APIView):
    """The record as it stands now, as a FHIR R4 collection Bundle."""

    @extend_schema(responses={(200, FHIR_CONTENT_TYPE): OpenApiResponse(
        OpenApiTypes.OBJECT, description="FHIR R4 Bundle (type collection)")})
    def get(self, request: Request, pk: str) -> HttpResponse:
        terminal = _terminal(request)
        casualty = _readable_casualty(terminal, pk)
        bundle = casualty_bundle(casualty, base_url=request.build_absolute_uri("/").rstrip("/"))
        audit_record(actor=terminal.name, action="casualty.read", target=casualty.topic,
                     detail={"via": "fhir"})
        return _fhir_response(bundle)


class CasualtyHandoverFhir(APIView):
    """The Bundle kept when the hospital accepted the handover (the latest, if several)."""

    @extend_schema(responses={(200, FHIR_CONTENT_TYPE): OpenApiResponse(
        OpenApiTypes.OBJECT, description="FHIR R4 Bundle (type collection)")})
    def get(self, request: Request, pk: str) -> HttpResponse:
        terminal = _terminal(request)
        casualty = _readable_casualty(terminal, pk)
        snapshot = HandoverBundle.objects.filter(casualty=casualty).order_by("-accepted_at").first()
        if snapshot is None:
            raise Http404
        audit_record(actor=terminal.name, action="casualty.read", target=casualty.topic,
                     detail={"via": "fhir.handover"})
        return _fhir_response(snapshot.bundle)


class RawXmlParser(BaseParser):
    """Hands the body over as bytes: have.py parses it with defusedxml, nothing else does."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return stream.read()


class HospitalHaveExport(APIView):
    """The hospital's capacity as an EDXL-HAVE 2.0 HospitalStatus document."""

    @extend_schema(responses={(200, HAVE_CONTENT_TYPE): OpenApiResponse(
        OpenApiTypes.STR, description="EDXL-HAVE 2.0 HospitalStatus XML")})
    def get(self, request: Request, code: str) -> HttpResponse:
        hospital = Hospital.objects.filter(
            permissions.hospital_readable_filter(_terminal(request)), code=code).first()
        if hospital is None:
            raise Http404
        return HttpResponse(hospital_have_xml(hospital, now=timezone.now()),
                            content_type=HAVE_CONTENT_TYPE)


class HospitalHaveImport(APIView):
    """A hospital system posts its capacity as HAVE; it is journalled like the socket's
    `capacity` message, so screens and the console see it at once."""

    parser_classes = [RawXmlParser]

    @extend_schema(
        request={HAVE_CONTENT_TYPE: OpenApiTypes.STR},
        responses={201: inline_serializer("HaveImportResponse", {
            "seq": serializers.IntegerField(), "topic": serializers.CharField()})},
    )
    def post(self, request: Request, code: str) -> Response:
        terminal = _terminal(request)
        if not permissions.may_publish_capacity(terminal, code):
            return Response({"error": f"hospital: terminal {terminal.name} may not publish "
                                      f"capacity for {code}"}, status=403)
        body = request.data
        if not isinstance(body, bytes):
            return Response({"error": "HospitalStatus: the body must be EDXL-HAVE XML"},
                            status=400)
        try:
            capacity = have_capacity_parse(body, code=code)
        except Invalid as error:
            return Response({"error": error.message}, status=400)
        except ValidationError as error:
            return Response({"error": f"HospitalStatus: {error}"}, status=400)
        stored = hospital_capacity_update(terminal=terminal, code=code,
                                          client_id=f"have-{uuid.uuid4().hex}",
                                          payload=capacity)
        return Response({"seq": stored.seq, "topic": stored.topic}, status=201)
