"""A hospital's capacity as OASIS EDXL-HAVE 2.0 XML (Hospital AVailability Exchange), both ways.

Element names and their order follow EDXL-HAVE v2.0 (OASIS Standard, 2019), HospitalType:
Organization, EmergencyDepartmentStatus, HospitalBedCapacityStatus, ..., LastUpdateTime.
The hub knows free beds per triage category and diversion, and maps them so:

  red    (immediate) -> BedType AdultICU            critical care
  yellow (delayed)   -> BedType MedicalSurgical     general acute beds
  green  (minor)     -> BedType EmergencyDepartment treated and released from the ED
  diversion          -> EMSTraffic/EMSTrafficStatus Closed (else Normal); an import also
                        reads Closed as diversion, Normal and Advisory as open.

Incoming XML is parsed with defusedxml: no entity expansion, no external DTD or entity.
"""

from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from hospital_intake.models import Hospital
from hospital_intake.schemas import Capacity
from hub.errors import Invalid
from hub.timefmt import iso_millis

HAVE = "urn:oasis:names:tc:emergency:EDXL:HAVE:2.0"
XNL = "urn:oasis:names:tc:ciq:xnl:3"
XPIL = "urn:oasis:names:tc:ciq:xpil:3"
GML = "http://www.opengis.net/gml/3.2"
CONTENT_TYPE = "application/xml"

BED_TYPES = {"red": "AdultICU", "yellow": "MedicalSurgical", "green": "EmergencyDepartment"}
# The children of have:Hospital the hub writes and reads, in the standard's order.
HOSPITAL_CHILDREN = ("Organization", "EmergencyDepartmentStatus", "HospitalBedCapacityStatus",
                     "LastUpdateTime")
_OPEN_TRAFFIC = ("Normal", "Advisory")

# The prefixes the specifications use in their examples, instead of ns0, ns1...
for _prefix, _uri in (("have", HAVE), ("xnl", XNL), ("xpil", XPIL), ("gml", GML)):
    ElementTree.register_namespace(_prefix, _uri)


def _q(name: str, namespace: str = HAVE) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: ElementTree.Element, name: str, text: str | None = None,
         namespace: str = HAVE) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, _q(name, namespace))
    if text is not None:
        element.text = text
    return element


def hospital_have_xml(hospital: Hospital, *, now: datetime) -> bytes:
    root = ElementTree.Element(_q("HospitalStatus"))
    entry = _sub(root, "Hospital")
    organization = _sub(entry, "Organization")
    info = _sub(organization, "OrganizationInformation")
    identifier = _sub(_sub(info, "Identifiers", namespace=XPIL), "Identifier", namespace=XPIL)
    _sub(identifier, "IdentifierElement", hospital.code, namespace=XPIL)
    name = _sub(info, "OrganisationName", namespace=XNL)
    _sub(name, "NameElement", hospital.name, namespace=XNL)
    point = _sub(_sub(organization, "OrganizationGeoLocation"), "Point", namespace=GML)
    # GML 3.2 with EPSG:4326 axis order: latitude first.
    _sub(point, "pos", f"{hospital.location.y} {hospital.location.x}", namespace=GML)
    emergency = _sub(entry, "EmergencyDepartmentStatus")
    traffic = _sub(emergency, "EMSTraffic")
    _sub(traffic, "EMSTrafficStatus", "Closed" if hospital.diversion else "Normal")
    if hospital.capacity_note:
        _sub(traffic, "EMSTrafficReason", hospital.capacity_note)
    beds = _sub(entry, "HospitalBedCapacityStatus")
    for category, bed_type in BED_TYPES.items():
        count = hospital.free_beds()[category]
        bed = _sub(beds, "BedCapacity")
        _sub(bed, "BedType", bed_type)
        capacity = _sub(bed, "Capacity")
        _sub(capacity, "CapacityStatus", "Vacant/Available" if count else "NotAvailable")
        _sub(capacity, "AvailableCount", str(count))
    _sub(entry, "LastUpdateTime", iso_millis(hospital.capacity_updated_at or now))
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def _one(parent: ElementTree.Element, path: str, where: str) -> ElementTree.Element:
    found = parent.findall("/".join(_q(part) for part in path.split("/")))
    if len(found) != 1:
        raise Invalid(f"{where}/{path}: expected one element, found {len(found)}")
    return found[0]


def have_capacity_parse(body: bytes, *, code: str) -> Capacity:
    """The capacity a HAVE document states for hospital `code`; errors name the element."""
    try:
        root = SafeElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise Invalid(f"HospitalStatus: not well-formed XML ({error})") from None
    except DefusedXmlException as error:
        raise Invalid(f"HospitalStatus: forbidden XML construct ({error})") from None
    if root.tag != _q("HospitalStatus"):
        raise Invalid(f"HospitalStatus: the root element is {root.tag}, expected "
                      f"{{{HAVE}}}HospitalStatus")
    hospital = _one(root, "Hospital", "HospitalStatus")
    where = "HospitalStatus/Hospital"
    ident = hospital.findtext(
        "/".join((_q("Organization"), _q("OrganizationInformation"), _q("Identifiers", XPIL),
                  _q("Identifier", XPIL), _q("IdentifierElement", XPIL))))
    if (ident or "").strip() != code:
        raise Invalid(f"{where}/Organization/OrganizationInformation/Identifiers: names "
                      f"{ident!r}, this is hospital {code}")
    counts: dict[str, int] = {}
    for category, bed_type in BED_TYPES.items():
        matching = [bed for bed in hospital.iterfind(f"{_q('HospitalBedCapacityStatus')}/"
                                                     f"{_q('BedCapacity')}")
                    if (bed.findtext(_q("BedType")) or "").strip() == bed_type]
        bed_where = f"{where}/HospitalBedCapacityStatus/BedCapacity[{bed_type}]"
        if len(matching) != 1:
            raise Invalid(f"{bed_where}: expected one, found {len(matching)}")
        text = _one(matching[0], "Capacity/AvailableCount", bed_where).text or ""
        if not text.strip().isdigit() or int(text) > 10000:
            raise Invalid(f"{bed_where}/Capacity/AvailableCount: {text!r} is not a count "
                          "0..10000")
        counts[category] = int(text)
    traffic_where = f"{where}/EmergencyDepartmentStatus/EMSTraffic"
    emergency = _one(hospital, "EmergencyDepartmentStatus/EMSTraffic", where)
    status = (_one(emergency, "EMSTrafficStatus", traffic_where).text or "").strip()
    if status not in (*_OPEN_TRAFFIC, "Closed"):
        raise Invalid(f"{traffic_where}/EMSTrafficStatus: {status!r} is not Normal, Advisory "
                      "or Closed")
    data: dict[str, Any] = {"beds": counts, "diversion": status == "Closed"}
    reason = (emergency.findtext(_q("EMSTrafficReason")) or "").strip()
    if len(reason) > 500:
        raise Invalid(f"{traffic_where}/EMSTrafficReason: {len(reason)} characters; the "
                      "capacity note holds 500")
    if reason:
        data["note"] = reason
    return Capacity.model_validate(data)
