"""EDXL-HAVE 2.0 on the live hub: export valid against the project's HAVE schema, import
through the capacity service, round trip, and clear 400s naming the element."""

import xml.etree.ElementTree as ET

import pytest
import requests
from lxml import etree

HAVE = "{urn:oasis:names:tc:emergency:EDXL:HAVE:2.0}"
XPIL = "{urn:oasis:names:tc:ciq:xpil:3}"
XNL = "{urn:oasis:names:tc:ciq:xnl:3}"


def _get(hub, code, token):
    return requests.get(f"{hub.http_url}/api/v1/hospitals/{code}/have.xml",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _post(hub, code, token, body):
    return requests.post(f"{hub.http_url}/api/v1/hospitals/{code}/have", data=body,
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/xml"}, timeout=10)


def _find(element, path):
    found = element.find(path)
    assert found is not None, path
    return found


def _children(element):
    return [child.tag.split("}")[1] for child in element]


def test_the_export_has_the_standards_elements_in_its_order(live_hub, roles):
    response = _get(live_hub, "TX1", roles.hospital_screen)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml"
    from hospital_intake.have import have_structure_errors

    assert have_structure_errors(etree.fromstring(response.content)) == []
    root = ET.fromstring(response.content)
    assert root.tag == f"{HAVE}HospitalStatus"
    (hospital,) = root
    # EDXL-HAVE 2.0 HospitalType sequence, restricted to what the hub fills in.
    assert _children(hospital) == ["Organization", "EmergencyDepartmentStatus",
                                   "HospitalBedCapacityStatus", "LastUpdateTime"]
    organization = _find(hospital, f"{HAVE}Organization")
    assert _children(organization) == ["OrganizationInformation", "OrganizationGeoLocation"]
    information = _find(organization, f"{HAVE}OrganizationInformation")
    assert [child.tag for child in information] == [f"{XNL}OrganisationName",
                                                   f"{XPIL}Identifiers"]
    assert information.findtext(f"{XNL}OrganisationName/{XNL}NameElement") == "Tongxiang First"
    assert information.findtext(f"{XPIL}Identifiers/{XPIL}Identifier/"
                                f"{XPIL}IdentifierElement") == "TX1"
    beds = {bed.findtext(f"{HAVE}BedType"): bed for bed in
            hospital.iterfind(f"{HAVE}HospitalBedCapacityStatus/{HAVE}BedCapacity")}
    assert {t: int(_find(b, f"{HAVE}Capacity/{HAVE}AvailableCount").text or "")
            for t, b in beds.items()} == {"AdultICU": 4, "MedicalSurgical": 8,
                                          "EmergencyDepartment": 20}
    for bed in beds.values():
        assert _children(bed) == ["BedType", "Capacity"]
        assert _children(_find(bed, f"{HAVE}Capacity")) == ["CapacityStatus", "AvailableCount"]
    assert hospital.findtext(f"{HAVE}EmergencyDepartmentStatus/{HAVE}EMSTraffic/"
                             f"{HAVE}EMSTrafficStatus") == "Normal"


def test_an_export_posted_back_changed_updates_capacity_and_journals_it(live_hub, roles):
    from hospital_intake.models import CapacityReport, Hospital
    from hub.models import JournalEntry

    root = ET.fromstring(_get(live_hub, "TX1", roles.hospital_screen).content)
    for bed in root.iter(f"{HAVE}BedCapacity"):
        if bed.findtext(f"{HAVE}BedType") == "AdultICU":
            _find(bed, f"{HAVE}Capacity/{HAVE}AvailableCount").text = "0"
    traffic = _find(root, f"{HAVE}Hospital/{HAVE}EmergencyDepartmentStatus/{HAVE}EMSTraffic")
    _find(traffic, f"{HAVE}EMSTrafficStatus").text = "Closed"
    ET.SubElement(traffic, f"{HAVE}EMSTrafficReason").text = "CT down"
    response = _post(live_hub, "TX1", roles.hospital_screen, ET.tostring(root))
    assert response.status_code == 201, response.text
    hospital = Hospital.objects.get(code="TX1")
    assert (hospital.free_beds(), hospital.diversion, hospital.capacity_note) == (
        {"red": 0, "yellow": 8, "green": 20}, True, "CT down")
    assert CapacityReport.objects.get(hospital=hospital).reported_by == "screen-TX1"
    entry = JournalEntry.objects.get(topic="hospital:TX1", type="capacity")
    assert entry.data == {"beds": {"red": 0, "yellow": 8, "green": 20}, "diversion": True,
                          "note": "CT down"}
    again = ET.fromstring(_get(live_hub, "TX1", roles.hospital_screen).content)
    assert again.findtext(f"{HAVE}Hospital/{HAVE}EmergencyDepartmentStatus/{HAVE}EMSTraffic/"
                          f"{HAVE}EMSTrafficStatus") == "Closed"


def test_only_that_hospitals_terminal_or_command_may_post(live_hub, roles):
    body = _get(live_hub, "TX1", roles.command).content
    assert _post(live_hub, "TX1", roles.other_hospital_screen, body).status_code == 403
    assert _post(live_hub, "TX1", roles.field, body).status_code == 403
    assert _get(live_hub, "TX1", roles.other_hospital_screen).status_code == 404


@pytest.mark.parametrize(("mutate", "named"), [
    (lambda s: s.replace(b"<have:AvailableCount>8<", b"<have:AvailableCount>many<"),
     "HospitalBedCapacityStatus/BedCapacity[2]/Capacity/AvailableCount"),
    (lambda s: s.replace(b"<have:BedType>AdultICU<", b"<have:BedType>Other<"),
     "HospitalBedCapacityStatus/BedCapacity[1]/BedType"),
    (lambda s: s.replace(b"<have:BedType>AdultICU<", b"<have:BedType>Burn<"),
     "BedCapacity[AdultICU]: expected one, found 0"),
    (lambda s: s.replace(b"<have:LastUpdateTime>", b"<have:LastUpdate>").replace(
        b"</have:LastUpdateTime>", b"</have:LastUpdate>"), "HospitalStatus/Hospital/LastUpdate"),
    (lambda s: s.replace(b"Normal", b"Sideways"), "EMSTrafficStatus"),
    (lambda s: s.replace(b"<xpil:IdentifierElement>TX1", b"<xpil:IdentifierElement>JX1"),
     "Identifiers"),
    (lambda s: s.replace(b"EDXL:HAVE:2.0", b"EDXL:HAVE:1.0"), "HospitalStatus"),
    (lambda s: s[:-30], "not well-formed"),
    (lambda s: s.replace(b"<have:EMSTrafficStatus>Normal</have:EMSTrafficStatus>",
                         b"<have:EMSTrafficStatus>Normal</have:EMSTrafficStatus>"
                         b"<have:EMSTrafficReason>" + b"x" * 501 + b"</have:EMSTrafficReason>"),
     "EMSTraffic/EMSTrafficReason"),
    (lambda s: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
     "forbidden"),
])
def test_bad_have_gets_a_400_naming_the_element(live_hub, roles, mutate, named):
    body = _get(live_hub, "TX1", roles.hospital_screen).content
    response = _post(live_hub, "TX1", roles.hospital_screen, mutate(body))
    assert response.status_code == 400
    assert named in response.json()["error"]
