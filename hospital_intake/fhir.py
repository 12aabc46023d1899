"""A casualty's record as an HL7 FHIR R4 `collection` Bundle (plain JSON), for hospital systems.

FHIR R4 (4.0.1), http://hl7.org/fhir/R4/. Every resource sits in the Bundle with a
`urn:uuid:` fullUrl and refers to the others by that URN (R4 Bundle, "Resolving references
in Bundles"), so a receiver needs no access to this hub to resolve them. The uuids are
derived from the casualty and the source row (uuid5), so exporting twice gives the same ids
and a receiver can de-duplicate.

Code systems used:
- LOINC (http://loinc.org) for the vital signs, as the R4 vital-signs profile asks;
- UCUM (http://unitsofmeasure.org) for every quantity;
- ISO/IEEE 11073-10101 MDC (urn:oid:2.16.840.1.113883.6.24) for ECG leads, as in R4's own
  example Observation/ekg (131329 lead I, 131330 lead II, 131389 lead III);
- HL7 v3 ActCode EMER for the encounter class;
- HL7 v3 ActReason HTEST as `meta.security` of the Bundle and of every resource when the
  casualty belongs to an exercise event (a drill);
- the hub's own code systems (urn:mcihub:...) for the triage category (red, yellow, green,
  black) and method (START, JumpSTART, SALT, manual): SNOMED CT has no concept set that
  matches these colours one to one, and a wrong code is worse than a local one.
"""

import uuid
from typing import Any

from django.utils import timezone

from ambulance.models import Transport
from field_terminal.models import Casualty, TriageAssessment, VitalSigns, WaveformSegment
from hub.timefmt import iso_millis

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:oid:2.16.840.1.113883.6.24"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
TRIAGE_TAG_SYSTEM = "urn:mcihub:triage-tag"
HOSPITAL_SYSTEM = "urn:mcihub:hospital"
TRIAGE_CATEGORY_SYSTEM = "urn:mcihub:codesystem:triage-category"
TRIAGE_METHOD_SYSTEM = "urn:mcihub:codesystem:triage-method"
FHIR_CONTENT_TYPE = "application/fhir+json"
# HL7 v3 ActReason HTEST "test health data": the security label R4 lists for records made for
# testing or training, here every record of an exercise event.
EXERCISE_SECURITY_LABEL = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                           "code": "HTEST", "display": "test health data"}

# field -> (LOINC codings, UCUM unit, observation category). SpO2 carries both codes
# the R4 oxygen-saturation profile lists (2708-6 generic, 59408-5 by pulse oximetry).
_VITALS: dict[str, tuple[tuple[tuple[str, str], ...], str, str]] = {
    "hr": ((("8867-4", "Heart rate"),), "/min", "vital-signs"),
    "spo2": ((("2708-6", "Oxygen saturation in Arterial blood"),
              ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")),
             "%", "vital-signs"),
    "rr": ((("9279-1", "Respiratory rate"),), "/min", "vital-signs"),
    "temp": ((("8310-5", "Body temperature"),), "Cel", "vital-signs"),
    "gcs": ((("9269-2", "Glasgow coma score total"),), "{score}", "survey"),
    "etco2": ((("19889-5", "Carbon dioxide [Partial pressure] in Exhaled gas --at end "
                           "expiration"),), "mm[Hg]", "vital-signs"),
}
_BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
_BP_PARTS = {"sbp": ("8480-6", "Systolic blood pressure"),
             "dbp": ("8462-4", "Diastolic blood pressure")}
# Only the ECG leads have an MDC code here; the other waveforms stay out of the export.
ECG_LEADS = {"ecg_i": ("131329", "MDC_ECG_ELEC_POTL_I"),
             "ecg_ii": ("131330", "MDC_ECG_ELEC_POTL_II"),
             "ecg_iii": ("131389", "MDC_ECG_ELEC_POTL_III")}
_ENDED_STATUSES = ("handed_over", "treated_on_scene", "deceased")


def _urn(casualty: Casualty, *parts: object) -> str:
    return str(uuid.uuid5(casualty.id, "/".join(str(part) for part in parts)))


def _ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": code}]}]


def _loinc(codings: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}
                       for code, display in codings], "text": codings[0][1]}


def _observation(casualty: Casualty, key: tuple[object, ...], *, patient: dict[str, Any],
                 encounter: dict[str, Any], category: str, code: dict[str, Any],
                 effective: Any, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": _urn(casualty, "Observation", *key),
        "status": "final", "category": _category(category), "code": code,
        "subject": _ref(patient), "encounter": _ref(encounter),
        "effectiveDateTime": iso_millis(effective), **value,
    }


def _patient(casualty: Casualty) -> dict[str, Any]:
    # An unidentified casualty is a Patient without a name: the triage tag on the body and
    # the hub's uuid are what identify it until the hospital registers it.
    identifiers: list[dict[str, Any]] = [
        {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{casualty.id}"}]
    if casualty.tag:
        identifiers.insert(0, {"use": "temp", "system": TRIAGE_TAG_SYSTEM,
                               "value": casualty.tag, "type": {"text": "triage tag"}})
    patient: dict[str, Any] = {"resourceType": "Patient", "id": _urn(casualty, "Patient"),
                               "identifier": identifiers, "active": True}
    if casualty.sex:
        patient["gender"] = casualty.sex
    if casualty.status == "deceased":
        patient["deceasedBoolean"] = True
    return patient


def _point_location(casualty: Casualty, key: str, name: str, point: Any,
                    **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Location", "id": _urn(casualty, "Location", key), "name": name,
            "mode": "instance", "status": "active",
            "position": {"longitude": point.x, "latitude": point.y}, **extra}


def _transport(casualty: Casualty) -> Transport | None:
    return (casualty.transports.exclude(status="cancelled").select_related("hospital", "unit")
            .order_by("-assigned_at").first())


def _encounter(casualty: Casualty, patient: dict[str, Any], pickup: dict[str, Any],
               transport: Transport | None, hospital: dict[str, Any] | None) -> dict[str, Any]:
    period: dict[str, str] = {"start": iso_millis(casualty.reported_at)}
    if casualty.status in _ENDED_STATUSES:
        period["end"] = iso_millis(casualty.status_changed_at)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "id": _urn(casualty, "Encounter"),
        "status": "finished" if casualty.status in _ENDED_STATUSES else "in-progress",
        "class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
        "subject": _ref(patient), "period": period,
        "location": [{"location": _ref(pickup), "status": "completed" if transport and
                      transport.departed_at else "active"}],
    }
    if casualty.complaint:
        encounter["reasonCode"] = [{"text": casualty.complaint}]
    if transport is not None and hospital is not None:
        encounter["hospitalization"] = {"origin": _ref(pickup), "destination": _ref(hospital)}
        arrived = transport.arrived_at is not None
        encounter["location"].append(
            {"location": _ref(hospital), "status": "active" if arrived else "planned"})
    return encounter


def _vital_observations(casualty: Casualty, vitals: VitalSigns, patient: dict[str, Any],
                        encounter: dict[str, Any]) -> list[dict[str, Any]]:
    made = []
    common: dict[str, Any] = {"patient": patient, "encounter": encounter,
                              "effective": vitals.measured_at}
    for field, (codings, unit, category) in _VITALS.items():
        value = getattr(vitals, field)
        if value is not None:
            made.append(_observation(casualty, ("vitals", vitals.pk, field), category=category,
                                     code=_loinc(codings), valueQuantity=_quantity(value, unit),
                                     **common))
    components = [{"code": _loinc((_BP_PARTS[field],)),
                   "valueQuantity": _quantity(getattr(vitals, field), "mm[Hg]")}
                  for field in ("sbp", "dbp") if getattr(vitals, field) is not None]
    if components:
        made.append(_observation(casualty, ("vitals", vitals.pk, "bp"), category="vital-signs",
                                 code=_loinc((_BP_PANEL,)), component=components, **common))
    return made


def _ecg_observation(casualty: Casualty, segment: WaveformSegment, patient: dict[str, Any],
                     encounter: dict[str, Any]) -> dict[str, Any]:
    code, display = ECG_LEADS[segment.signal]
    return _observation(
        casualty, ("waveform", segment.pk), patient=patient, encounter=encounter,
        category="procedure", effective=segment.t0,
        code={"coding": [{"system": MDC, "code": code, "display": display}], "text": display},
        valueSampledData={
            "origin": _quantity(0, segment.unit),
            # R4 SampledData.period is the time between samples in milliseconds.
            "period": 1000.0 / segment.hz,
            "dimensions": 1,
            # repr() is the shortest text that reads back as the same float.
            "data": " ".join(repr(float(sample)) for sample in segment.samples),
        },
    )


def _triage_observation(casualty: Casualty, assessment: TriageAssessment,
                        patient: dict[str, Any], encounter: dict[str, Any]) -> dict[str, Any]:
    observation = _observation(
        casualty, ("triage", assessment.pk), patient=patient, encounter=encounter,
        category="survey", effective=assessment.assessed_at,
        code={"coding": [{"system": TRIAGE_CATEGORY_SYSTEM, "code": "category",
                          "display": "Mass-casualty triage category"}],
              "text": "Triage category"},
        valueCodeableConcept={"coding": [{
            "system": TRIAGE_CATEGORY_SYSTEM, "code": assessment.category,
            "display": assessment.get_category_display()}]},
        method={"coding": [{"system": TRIAGE_METHOD_SYSTEM, "code": assessment.method}]},
        performer=[{"display": assessment.assessed_by}],
    )
    if assessment.reason:
        observation["note"] = [{"text": assessment.reason}]
    return observation


def casualty_bundle(casualty: Casualty, *, base_url: str) -> dict[str, Any]:
    """The whole record; `base_url` (scheme and host) makes the media URLs absolute."""
    patient = _patient(casualty)
    pickup = _point_location(casualty, "pickup", f"Pick-up point of {casualty.tag or 'casualty'}",
                             casualty.location)
    transport = _transport(casualty)
    hospital = None
    if transport is not None:
        hospital = _point_location(
            casualty, "hospital", transport.hospital.name, transport.hospital.location,
            identifier=[{"system": HOSPITAL_SYSTEM, "value": transport.hospital.code}],
            type=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                               "code": "HOSP", "display": "Hospital"}]}],
        )
    encounter = _encounter(casualty, patient, pickup, transport, hospital)
    resources: list[dict[str, Any]] = [patient, encounter, pickup]
    if hospital is not None:
        resources.append(hospital)
    for assessment in casualty.triage_history.all():
        resources.append(_triage_observation(casualty, assessment, patient, encounter))
    for vitals in casualty.vitals.order_by("measured_at", "pk"):
        resources.extend(_vital_observations(casualty, vitals, patient, encounter))
    for segment in casualty.waveforms.filter(signal__in=ECG_LEADS).order_by("t0", "pk"):
        resources.append(_ecg_observation(casualty, segment, patient, encounter))
    for attachment in casualty.media.select_related("media"):
        media = attachment.media
        content: dict[str, Any] = {"contentType": media.content_type,
                                   "url": f"{base_url}/api/v1/media/{media.pk}",
                                   "size": media.size}
        if attachment.caption:
            content["title"] = attachment.caption
        resources.append({
            "resourceType": "Media", "id": _urn(casualty, "Media", attachment.pk),
            "status": "completed",
            "type": {"coding": [{"system": MEDIA_TYPE, "code": media.kind}]},
            "subject": _ref(patient), "encounter": _ref(encounter),
            "createdDateTime": iso_millis(attachment.attached_at),
            "operator": {"display": attachment.attached_by}, "content": content,
        })
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection",
        "timestamp": iso_millis(timezone.now()),
        "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
                  for resource in resources],
    }
    if casualty.event.is_exercise:
        # A receiver that splits the Bundle still sees on every resource that it is drill data.
        for resource in (bundle, *resources):
            resource["meta"] = {"security": [EXERCISE_SECURITY_LABEL]}
    return bundle
