"""REST reads of the teleconsult: an expert's queue of open requests, and the ICE servers
(STUN, and TURN with short-lived coturn credentials) a terminal hands to RTCPeerConnection."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.authentication import request_terminal
from hub.models import Terminal, TerminalKind
from teleconsult.selectors import expert_queue, ice_servers


def _terminal(request: Request) -> Terminal:
    terminal = request_terminal(request)
    assert terminal is not None  # IsTerminal ran first
    return terminal


class ConsultQueue(APIView):
    @extend_schema(responses={200: OpenApiResponse(
        description="Open consults of the expert's specialties, most urgent first")})
    def get(self, request: Request) -> Response:
        terminal = _terminal(request)
        if terminal.kind != TerminalKind.EXPERT:
            raise PermissionDenied("the consult queue is for expert terminals")
        return Response({"consults": expert_queue(terminal=terminal)})


class IceServers(APIView):
    @extend_schema(responses={200: OpenApiResponse(
        description="RTCPeerConnection iceServers, and how long the TURN credential lasts")})
    def get(self, request: Request) -> Response:
        # Hospital screens take no part in calls; every other kind may join a consult.
        terminal = _terminal(request)
        if terminal.kind == TerminalKind.HOSPITAL:
            raise PermissionDenied("hospital terminals take no part in consults")
        servers: dict[str, Any] = ice_servers(terminal_name=terminal.name)
        return Response(servers)
