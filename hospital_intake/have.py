"""A hospital's capacity as OASIS EDXL-HAVE 2.0 XML (Hospital AVailability Exchange), both ways.

The structure is the project's schema hospital_intake/have_xsd/have-2.0-hub.xsd (written
from EDXL-HAVE 2.0 CS02's element reference model, with the xPIL/xNL 3.0 and GML 3.2 parts it
uses); every document the hub accepts is validated against it, and the tests validate every
export.
The hub knows free beds per triage category and diversion, and maps them so:

  red    (immediate) -> BedType AdultICU            critical care
  yellow (delayed)   -> BedType MedicalSurgical     general acute beds
  green  (minor)     -> BedType EmergencyDepartment treated and released from the ED
  diversion          -> EMSTraffic/EMSTrafficStatus Closed (else Normal); an import reads
                        Closed and NotApplicable (no emergency department) as diversion,
                        Normal and Advisory as open.

Incoming XML is first parsed with defusedxml (no DTD at all, so no entity and no external
reference), then by an lxml parser that loads no DTD and fetches nothing, for the schema check.
"""

import functools
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from lxml import etree

from hospital_intake.models import Hospital
from hospital_intake.schemas import Capacity
from hub.errors import Invalid
from hub.timefmt import iso_millis

HAVE = "urn:oasis:names:tc:emergency:EDXL:HAVE:2.0"
XNL = "urn:oasis:names:tc:ciq:xnl:3"
XPIL = "urn:oasis:names:tc:ciq:xpil:3"
GML = "http://www.opengis.net/gml/3.2"
# EPSG:4326 in the OGC URN form GML 3.2 recommends; its axis order is latitude, longitude.
WGS84 = "urn:ogc:def:crs:EPSG::4326"
CONTENT_TYPE = "application/xml"
SCHEMA_PATH = Path(__file__).resolve().parent / "have_xsd" / "have-2.0-hub.xsd"

BED_TYPES = {"red": "AdultICU", "yellow": "MedicalSurgical", "green": "EmergencyDepartment"}
_DIVERTED_TRAFFIC = ("Closed", "NotApplicable")
_PREFIXES = {HAVE: "have", XNL: "xnl", XPIL: "xpil", GML: "gml"}
_MAX_BEDS = 10000
_validation_lock = threading.Lock()

for _uri, _prefix in _PREFIXES.items():
    ElementTree.register_namespace(_prefix, _uri)


@functools.cache
def have_schema() -> Any:
    """The compiled schema; its imports are the sibling files, read from disk only."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


def _q(name: str, namespace: str = HAVE) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: ElementTree.Element, name: str, text: str | None = None,
         namespace: str = HAVE) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, _q(name, namespace))
    if text is not None:
        element.text = text
    return element


def _gml_id(code: str) -> str:
    # gml:id is an xs:ID (an NCName): letters, digits, '.', '-', '_', not starting with a digit.
    return "hospital-" + re.sub(r"[^A-Za-z0-9._-]", "_", code)


def hospital_have_xml(hospital: Hospital, *, now: datetime) -> bytes:
    root = ElementTree.Element(_q("HospitalStatus"))
    entry = _sub(root, "Hospital")
    organization = _sub(entry, "Organization")
    # xPIL OrganisationDetailsType order: OrganisationName before Identifiers.
    info = _sub(organization, "OrganizationInformation")
    name = _sub(info, "OrganisationName", namespace=XNL)
    _sub(name, "NameElement", hospital.name, namespace=XNL)
    identifier = _sub(_sub(info, "Identifiers", namespace=XPIL), "Identifier", namespace=XPIL)
    _sub(identifier, "IdentifierElement", hospital.code, namespace=XPIL)
    point = _sub(_sub(organization, "OrganizationGeoLocation"), "Point", namespace=GML)
    point.set(_q("id", GML), _gml_id(hospital.code))
    point.set("srsName", WGS84)
    _sub(point, "pos", f"{hospital.location.y} {hospital.location.x}", namespace=GML)
    emergency = _sub(entry, "EmergencyDepartmentStatus")
    traffic = _sub(emergency, "EMSTraffic")
    _sub(traffic, "EMSTrafficStatus", "Closed" if hospital.diversion else "Normal")
    if hospital.capacity_note:
        _sub(traffic, "EMSTrafficReason", hospital.capacity_note)
    beds = _sub(entry, "HospitalBedCapacityStatus")
    free = hospital.free_beds()
    for category, bed_type in BED_TYPES.items():
        bed = _sub(beds, "BedCapacity")
        _sub(bed, "BedType", bed_type)
        capacity = _sub(bed, "Capacity")
        _sub(capacity, "CapacityStatus", "Vacant/Available" if free[category] else "NotAvailable")
        _sub(capacity, "AvailableCount", str(free[category]))
    _sub(entry, "LastUpdateTime", iso_millis(hospital.capacity_updated_at or now))
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def _element_path(element: Any) -> str:
    """`HospitalStatus/Hospital/HospitalBedCapacityStatus/BedCapacity[2]/BedType`: local
    names (CIQ and GML ones with their usual prefix), an index where a name repeats."""
    steps = []
    while element is not None:
        name = etree.QName(element)
        step = name.localname
        if name.namespace != HAVE:
            step = f"{_PREFIXES.get(name.namespace or '', name.namespace)}:{step}"
        parent = element.getparent()
        if parent is not None:
            same = [sibling for sibling in parent if sibling.tag == element.tag]
            if len(same) > 1:
                step += f"[{same.index(element) + 1}]"
        steps.append(step)
        element = parent
    return "/".join(reversed(steps))


def _readable_message(message: str) -> str:
    for uri, prefix in _PREFIXES.items():
        message = message.replace(f"{{{uri}}}", "" if uri == HAVE else f"{prefix}:")
    return message


def have_structure_errors(root: Any) -> list[str]:
    """Every departure of an lxml tree from the schema, each naming the element's path."""
    schema = have_schema()
    # The schema keeps the last validation's log on itself; REST views run in threads.
    with _validation_lock:
        if schema.validate(root):
            return []
        log = list(schema.error_log)
    # libxml2 names the element by the same XPath getpath() gives, prefixed or positional.
    tree = root.getroottree()
    elements = {tree.getpath(element): element for element in root.iter(etree.Element)}
    return [f"{_element_path(elements[error.path]) if error.path in elements else error.path}: "
            f"{_readable_message(error.message)}" for error in log]


def _validated_tree(body: bytes) -> Any:
    try:
        # A HAVE document has no use for a DTD: refusing any keeps entities and external
        # fetches out entirely.
        root = SafeElementTree.fromstring(body, forbid_dtd=True)
    except ElementTree.ParseError as error:
        raise Invalid(f"HospitalStatus: not well-formed XML ({error})") from None
    except DefusedXmlException as error:
        raise Invalid(f"HospitalStatus: forbidden XML construct ({error})") from None
    if root.tag != _q("HospitalStatus"):
        raise Invalid(f"HospitalStatus: the root element is {root.tag}, expected "
                      f"{{{HAVE}}}HospitalStatus")
    # defusedxml has refused any DTD above; this parser would read none and fetch nothing.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tree = etree.fromstring(body, parser)
    errors = have_structure_errors(tree)
    if errors:
        raise Invalid(f"{errors[0]} (EDXL-HAVE 2.0 structure; {len(errors)} error(s))")
    return tree


def have_capacity_parse(body: bytes, *, code: str) -> Capacity:
    """The capacity a HAVE document states for hospital `code`; errors name the element."""
    root = _validated_tree(body)
    ns = {"have": HAVE, "xpil": XPIL}
    hospitals = root.findall("have:Hospital", ns)
    if len(hospitals) != 1:
        raise Invalid(f"HospitalStatus/Hospital: the hub takes one hospital per document, "
                      f"found {len(hospitals)}")
    hospital = hospitals[0]
    where = "HospitalStatus/Hospital"
    identifiers = [(element.text or "").strip() for element in hospital.iterfind(
        "have:Organization/have:OrganizationInformation/xpil:Identifiers/xpil:Identifier/"
        "xpil:IdentifierElement", ns)]
    if code not in identifiers:
        raise Invalid(f"{where}/Organization/OrganizationInformation/Identifiers: names "
                      f"{', '.join(identifiers)!r}, this is hospital {code}")
    counts: dict[str, int] = {}
    for category, bed_type in BED_TYPES.items():
        matching = [bed for bed in hospital.iterfind(
            "have:HospitalBedCapacityStatus/have:BedCapacity", ns)
            if (bed.findtext("have:BedType", namespaces=ns) or "").strip() == bed_type]
        bed_where = f"{where}/HospitalBedCapacityStatus/BedCapacity[{bed_type}]"
        if len(matching) != 1:
            raise Invalid(f"{bed_where}: expected one, found {len(matching)}")
        text = matching[0].findtext("have:Capacity/have:AvailableCount", namespaces=ns)
        if text is None:
            raise Invalid(f"{bed_where}/Capacity/AvailableCount: missing; the hub needs the "
                          "count of free beds")
        if int(text) > _MAX_BEDS:
            raise Invalid(f"{bed_where}/Capacity/AvailableCount: {text.strip()} is not a count "
                          f"0..{_MAX_BEDS}")
        counts[category] = int(text)
    traffic_where = f"{where}/EmergencyDepartmentStatus/EMSTraffic"
    traffic = hospital.find("have:EmergencyDepartmentStatus/have:EMSTraffic", ns)
    status = (traffic.findtext("have:EMSTrafficStatus", namespaces=ns) or "").strip()
    data: dict[str, Any] = {"beds": counts, "diversion": status in _DIVERTED_TRAFFIC}
    reason = (traffic.findtext("have:EMSTrafficReason", namespaces=ns) or "").strip()
    if len(reason) > 500:
        raise Invalid(f"{traffic_where}/EMSTrafficReason: {len(reason)} characters; the "
                      "capacity note holds 500")
    if reason:
        data["note"] = reason
    return Capacity.model_validate(data)
