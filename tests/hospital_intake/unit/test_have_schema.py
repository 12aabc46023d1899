"""EDXL-HAVE 2.0 documents against the project's schema (hospital_intake/have_xsd/): every
export validates, a hospital system's fuller document is accepted, and each kind of structural
fault is refused with the element's path."""

from datetime import UTC, datetime

import pytest
from django.contrib.gis.geos import Point
from lxml import etree

from hub.errors import Invalid

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _hospital(**fields):
    from hospital_intake.models import Hospital

    values = {"code": "TX1", "name": "Tongxiang First", "location": Point(120.561, 30.629),
              "beds_red": 4, "beds_yellow": 8, "beds_green": 20}
    return Hospital(**(values | fields))


def _errors(body: bytes) -> list[str]:
    from hospital_intake.have import have_structure_errors

    return have_structure_errors(etree.fromstring(body))


# A hospital system's own document: default namespace, other prefixes, and the optional parts
# of HAVE 2.0 the hub does not write (EMSAmbulanceStatus, BaselineCount, more bed types,
# ServiceCoverageStatus, CIQ contact numbers).
FOREIGN = b"""<?xml version="1.0" encoding="UTF-8"?>
<HospitalStatus xmlns="urn:oasis:names:tc:emergency:EDXL:HAVE:2.0"
    xmlns:p="urn:oasis:names:tc:ciq:xpil:3" xmlns:n="urn:oasis:names:tc:ciq:xnl:3"
    xmlns:g="http://www.opengis.net/gml/3.2">
  <Hospital>
    <Organization>
      <OrganizationInformation>
        <n:OrganisationName><n:NameElement>Tongxiang First People's Hospital</n:NameElement>
        </n:OrganisationName>
        <p:ContactNumbers><p:ContactNumber><p:ContactNumberElement>0573-88</p:ContactNumberElement>
        </p:ContactNumber></p:ContactNumbers>
        <p:Identifiers><p:Identifier p:Type="Hub"><p:IdentifierElement>TX1</p:IdentifierElement>
        </p:Identifier></p:Identifiers>
      </OrganizationInformation>
      <OrganizationGeoLocation>
        <g:Point g:id="tx1" srsName="urn:ogc:def:crs:EPSG::4326"><g:pos>30.629 120.561</g:pos>
        </g:Point>
      </OrganizationGeoLocation>
    </Organization>
    <EmergencyDepartmentStatus>
      <EMSTraffic><EMSTrafficStatus>Advisory</EMSTrafficStatus>
        <EMSTrafficReason>CT scanner down</EMSTrafficReason></EMSTraffic>
      <EMSAmbulanceStatus><EMSOffloadStatus>Delayed</EMSOffloadStatus>
        <EMSOffloadMinutes>35</EMSOffloadMinutes></EMSAmbulanceStatus>
    </EmergencyDepartmentStatus>
    <HospitalBedCapacityStatus>
      <BedCapacity><BedType>Burn</BedType><Capacity><AvailableCount>1</AvailableCount></Capacity>
      </BedCapacity>
      <BedCapacity><BedType>AdultICU</BedType><Capacity><CapacityStatus>Vacant/Available</CapacityStatus>
        <AvailableCount>3</AvailableCount><BaselineCount>12</BaselineCount></Capacity></BedCapacity>
      <BedCapacity><BedType>MedicalSurgical</BedType><Capacity>
        <AvailableCount>9</AvailableCount></Capacity></BedCapacity>
      <BedCapacity><BedType>EmergencyDepartment</BedType><Capacity>
        <CapacityStatus>NotAvailable</CapacityStatus><AvailableCount>0</AvailableCount></Capacity>
      </BedCapacity>
    </HospitalBedCapacityStatus>
    <ServiceCoverageStatus><Burn><BurnCenter>true</BurnCenter></Burn></ServiceCoverageStatus>
    <LastUpdateTime>2026-12-01T13:58:00+08:00</LastUpdateTime>
  </Hospital>
</HospitalStatus>
"""


@pytest.mark.parametrize("fields", [
    {},
    {"diversion": True, "capacity_note": "CT down & <lift> out"},
    {"beds_red": 0, "beds_yellow": 0, "beds_green": 0, "capacity_updated_at": NOW},
    {"code": "EX-wic-2019/TX1", "name": "桐乡市第一人民医院"},
])
def test_every_export_is_valid_against_the_have_schema(fields):
    from hospital_intake.have import hospital_have_xml

    assert _errors(hospital_have_xml(_hospital(**fields), now=NOW)) == []


def test_the_export_names_the_hospital_before_identifying_it_as_xpil_orders_them():
    from hospital_intake.have import XNL, XPIL, hospital_have_xml

    root = etree.fromstring(hospital_have_xml(_hospital(), now=NOW))
    info = root.find(".//{urn:oasis:names:tc:emergency:EDXL:HAVE:2.0}OrganizationInformation")
    assert [child.tag for child in info] == [f"{{{XNL}}}OrganisationName",
                                            f"{{{XPIL}}}Identifiers"]
    point = root.find(".//{http://www.opengis.net/gml/3.2}Point")
    assert point.get("{http://www.opengis.net/gml/3.2}id") == "hospital-TX1"
    assert point.get("srsName") == "urn:ogc:def:crs:EPSG::4326"


def test_a_hospital_systems_fuller_document_is_valid_and_read():
    from hospital_intake.have import have_capacity_parse

    assert _errors(FOREIGN) == []
    capacity = have_capacity_parse(FOREIGN, code="TX1")
    assert capacity.model_dump(exclude_none=True) == {
        "beds": {"red": 3, "yellow": 9, "green": 0}, "diversion": False,
        "note": "CT scanner down"}


def test_not_applicable_traffic_a_hospital_without_an_ed_counts_as_diversion():
    from hospital_intake.have import have_capacity_parse

    body = FOREIGN.replace(b"Advisory", b"NotApplicable")
    assert have_capacity_parse(body, code="TX1").diversion is True


@pytest.mark.parametrize(("old", "new", "named"), [
    (b"<BedType>Burn<", b"<BedType>BurnUnit<", "HospitalBedCapacityStatus/BedCapacity[1]/BedType"),
    (b"Advisory", b"Amber", "EmergencyDepartmentStatus/EMSTraffic/EMSTrafficStatus"),
    (b">Delayed<", b">Slow<", "EMSAmbulanceStatus/EMSOffloadStatus"),
    (b"Vacant/Available", b"Vacant", "BedCapacity[2]/Capacity/CapacityStatus"),
    (b"<AvailableCount>3<", b"<AvailableCount>-3<", "BedCapacity[2]/Capacity/AvailableCount"),
    (b"<EMSOffloadMinutes>35<", b"<EMSOffloadMinutes>soon<", "EMSOffloadMinutes"),
    (b' g:id="tx1"', b"", "OrganizationGeoLocation/gml:Point"),
    (b"30.629 120.561", b"30.629", "OrganizationGeoLocation/gml:Point/gml:pos"),
    (b"2026-12-01T13:58:00+08:00", b"yesterday", "HospitalStatus/Hospital/LastUpdateTime"),
    (b"<LastUpdateTime>2026-12-01T13:58:00+08:00</LastUpdateTime>", b"",
     "HospitalStatus/Hospital"),
    (b"EMSTraffic>", b"EMSTrafic>", "EmergencyDepartmentStatus/EMSTrafic"),
    (b"<Organization>", b"<Organization><Unknown/>", "Organization/Unknown"),
])
def test_a_document_that_breaks_the_structure_is_refused_naming_the_element(old, new, named):
    from hospital_intake.have import have_capacity_parse

    body = FOREIGN.replace(old, new)
    assert body != FOREIGN
    with pytest.raises(Invalid) as refused:
        have_capacity_parse(body, code="TX1")
    assert named in refused.value.message
    assert "EDXL-HAVE 2.0 structure" in refused.value.message


def test_identifiers_before_the_name_the_hubs_former_order_is_refused():
    from hospital_intake.have import have_capacity_parse

    name = (b"<n:OrganisationName><n:NameElement>Tongxiang First People's Hospital"
            b"</n:NameElement>\n        </n:OrganisationName>")
    identifiers = FOREIGN[FOREIGN.index(b"<p:Identifiers>"):
                          FOREIGN.index(b"</p:Identifiers>") + len(b"</p:Identifiers>")]
    body = FOREIGN.replace(name, b"").replace(identifiers, identifiers + name)
    with pytest.raises(Invalid) as refused:
        have_capacity_parse(body, code="TX1")
    assert "OrganizationInformation/xnl:OrganisationName" in refused.value.message


def test_a_document_with_a_dtd_is_refused_before_anything_could_be_fetched():
    from hospital_intake.have import have_capacity_parse

    external = (b'<?xml version="1.0"?><!DOCTYPE HospitalStatus SYSTEM '
                b'"http://127.0.0.1:9/have.dtd">' + FOREIGN.split(b"?>", 1)[1])
    with pytest.raises(Invalid) as refused:
        have_capacity_parse(external, code="TX1")
    assert "forbidden" in refused.value.message
