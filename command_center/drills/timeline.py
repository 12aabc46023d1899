"""The drill timeline file (`mci-drill/1`, docs/drills.md): read, check strictly, and plan.

Pure: no Django, no I/O besides reading the file. Every error names the field, as
`incidents[1].triage.red: must be an integer 0..1000`.
"""

import json
import math
import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRILL_FORMAT = "mci-drill/1"
CATEGORIES = ("red", "yellow", "green", "black")
NEEDS = ("trauma", "burns", "pediatric", "cardiac", "stroke")
AGE_GROUPS = ("adult", "child", "infant")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,5}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
_METRES_PER_DEGREE = 111_320.0
# The exponent of the report times' spread: t = over * (i / n) ** 1.5 puts most reports in the
# first minutes (casualties lie where they fell and are found first), stragglers later (those
# who walked away and come back to a post).
_FRONT_LOADING = 1.5


class DrillError(ValueError):
    """A drill file that cannot be run; the message names the field."""


@dataclass(frozen=True)
class Injury:
    complaint: str
    needs: tuple[str, ...]


@dataclass(frozen=True)
class Incident:
    code: str
    name: str
    name_zh: str
    at_minute: float
    over_minutes: float
    lat: float
    lon: float
    spread_m: float
    medical_posts: tuple[str, ...]
    tag_prefix: str
    triage: dict[str, int]
    children: float
    injuries: dict[str, tuple[Injury, ...]]

    @property
    def casualties(self) -> int:
        return sum(self.triage.values())


@dataclass(frozen=True)
class Drill:
    path: Path
    scenario: Path
    slug: str
    name: str
    name_zh: str
    prefix: str
    incidents: tuple[Incident, ...]

    @property
    def casualties(self) -> int:
        return sum(incident.casualties for incident in self.incidents)


@dataclass(frozen=True)
class PlannedCasualty:
    """One casualty of the timeline: when (drill seconds from the start) and who reports it."""

    at_seconds: float
    incident: str
    medical_post: str
    casualty: str
    tag: str
    category: str
    method: str
    age_group: str
    sex: str
    complaint: str
    needs: tuple[str, ...]
    lat: float
    lon: float


def _fields(obj: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DrillError(f"{where}: must be an object")
    for key in obj:
        if key not in required | optional:
            raise DrillError(f"{where}.{key}: unknown field")
    for key in sorted(required):
        if key not in obj:
            raise DrillError(f"{where}.{key}: is required")
    return obj


def _text(obj: dict[str, Any], key: str, where: str, *, longest: int, default: str = "") -> str:
    value = obj.get(key, default)
    if not isinstance(value, str) or not (1 <= len(value) <= longest or value == default):
        raise DrillError(f"{where}.{key}: must be text of 1..{longest} characters")
    return value


def _number(obj: dict[str, Any], key: str, where: str, low: float, high: float,
            default: float | None = None) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise DrillError(f"{where}.{key}: must be a number {low:g}..{high:g}")
    return float(value)


def _matching(obj: dict[str, Any], key: str, where: str, pattern: re.Pattern[str],
              what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise DrillError(f"{where}.{key}: must be {what}")
    return value


def _injury(obj: Any, where: str) -> Injury:
    fields = _fields(obj, where, {"complaint"}, {"needs"})
    needs = fields.get("needs", [])
    if not isinstance(needs, list):
        raise DrillError(f"{where}.needs: must be a list of {', '.join(NEEDS)}")
    for i, need in enumerate(needs):
        if need not in NEEDS:
            raise DrillError(f"{where}.needs[{i}]: must be one of {', '.join(NEEDS)}")
    return Injury(_text(fields, "complaint", where, longest=500), tuple(needs))


def _incident(obj: Any, where: str, posts: set[str]) -> Incident:
    fields = _fields(
        obj, where,
        {"code", "name", "at_minute", "over_minutes", "location", "medical_posts", "triage",
         "injuries"},
        {"name_zh", "spread_m", "tag_prefix", "children"},
    )
    location = _fields(fields["location"], f"{where}.location", {"lat", "lon"}, set())
    lat = _number(location, "lat", f"{where}.location", -90, 90)
    lon = _number(location, "lon", f"{where}.location", -180, 180)
    incident_posts = fields["medical_posts"]
    if not isinstance(incident_posts, list) or not incident_posts:
        raise DrillError(f"{where}.medical_posts: must be a non-empty list of post codes")
    for i, post in enumerate(incident_posts):
        if post not in posts:
            raise DrillError(f"{where}.medical_posts[{i}]: no medical post {post!r} in the "
                             "scenario")
    triage_obj = _fields(fields["triage"], f"{where}.triage", set(), set(CATEGORIES))
    triage = {}
    for category in CATEGORIES:
        count = triage_obj.get(category, 0)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1000:
            raise DrillError(f"{where}.triage.{category}: must be an integer 0..1000")
        triage[category] = count
    if sum(triage.values()) == 0:
        raise DrillError(f"{where}.triage: must declare at least one casualty")
    injuries_obj = _fields(fields["injuries"], f"{where}.injuries", set(), set(CATEGORIES))
    injuries: dict[str, tuple[Injury, ...]] = {}
    for category in CATEGORIES:
        listed = injuries_obj.get(category, [])
        if not isinstance(listed, list) or (triage[category] and not listed):
            raise DrillError(f"{where}.injuries.{category}: must list at least one injury for "
                             f"the {triage[category]} {category} casualties")
        injuries[category] = tuple(_injury(item, f"{where}.injuries.{category}[{i}]")
                                   for i, item in enumerate(listed))
    code = _matching(fields, "code", where, _CODE, "a code of 1..16 letters, digits, - or _")
    return Incident(
        code=code, name=_text(fields, "name", where, longest=200),
        name_zh=_text(fields, "name_zh", where, longest=200),
        at_minute=_number(fields, "at_minute", where, 0, 24 * 60),
        over_minutes=_number(fields, "over_minutes", where, 0.1, 24 * 60),
        lat=lat, lon=lon, spread_m=_number(fields, "spread_m", where, 0, 2000, default=50),
        medical_posts=tuple(incident_posts),
        tag_prefix=_matching({"tag_prefix": fields.get("tag_prefix", code.upper()[:8])},
                             "tag_prefix", where, re.compile(r"^[A-Za-z0-9-]{1,8}$"),
                             "1..8 letters, digits or -"),
        triage=triage, children=_number(fields, "children", where, 0, 1, default=0),
        injuries=injuries,
    )


def drill_read(path: Path) -> Drill:
    """The drill file at `path`, checked; its scenario is looked up beside it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DrillError(f"{path}: cannot be read as JSON ({error})") from None
    fields = _fields(document, "drill", {"format", "scenario", "exercise", "incidents"},
                     {"note"})
    if fields["format"] != DRILL_FORMAT:
        raise DrillError(f"drill.format: must be {DRILL_FORMAT!r}")
    scenario_name = _text(fields, "scenario", "drill", longest=200)
    scenario = (path.parent / scenario_name).resolve()
    try:
        scenario_document = json.loads(scenario.read_text(encoding="utf-8"))
        posts = {post["code"] for post in scenario_document.get("medical_posts", [])}
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise DrillError(f"drill.scenario: {scenario} cannot be read as a scenario "
                         f"({error})") from None
    exercise = _fields(fields["exercise"], "drill.exercise", {"slug", "name", "prefix"},
                       {"name_zh"})
    incidents = fields["incidents"]
    if not isinstance(incidents, list) or not incidents:
        raise DrillError("drill.incidents: must be a non-empty list")
    checked = tuple(_incident(incident, f"incidents[{i}]", posts)
                    for i, incident in enumerate(incidents))
    codes = [incident.code for incident in checked]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise DrillError(f"incidents[{i}].code: {code!r} is used twice")
    return Drill(
        path=path, scenario=scenario,
        slug=_matching(exercise, "slug", "drill.exercise", _SLUG,
                       "a slug of 1..40 lowercase letters, digits or -"),
        name=_text(exercise, "name", "drill.exercise", longest=150),
        name_zh=_text(exercise, "name_zh", "drill.exercise", longest=150),
        prefix=_matching(exercise, "prefix", "drill.exercise", _PREFIX,
                         "1..6 capital letters or digits, starting with a letter"),
        incidents=checked,
    )


def _scatter(rng: random.Random, incident: Incident) -> tuple[float, float]:
    # Uniform over the disc of `spread_m` around the incident's point.
    distance = incident.spread_m * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    lat = incident.lat + distance * math.cos(bearing) / _METRES_PER_DEGREE
    lon = incident.lon + distance * math.sin(bearing) / (
        _METRES_PER_DEGREE * math.cos(math.radians(incident.lat)))
    return round(lat, 6), round(lon, 6)


def drill_plan(drill: Drill, *, seed: int, run: str) -> list[PlannedCasualty]:
    """Every casualty of the timeline, in report order; the same seed gives the same plan.
    Casualty uuids derive from the run's name and the tag: unique across runs (a casualty's
    uuid is global), and the same for a frame sent twice within one run."""
    rng = random.Random(seed)
    planned = []
    for incident in drill.incidents:
        categories = [c for c in CATEGORIES for _ in range(incident.triage[c])]
        rng.shuffle(categories)
        count = len(categories)
        for i, category in enumerate(categories):
            injury = rng.choice(incident.injuries[category])
            child = rng.random() < incident.children
            lat, lon = _scatter(rng, incident)
            planned.append(PlannedCasualty(
                at_seconds=60 * (incident.at_minute
                                 + incident.over_minutes * (i / count) ** _FRONT_LOADING),
                incident=incident.code,
                medical_post=incident.medical_posts[i % len(incident.medical_posts)],
                casualty=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                        f"urn:mcihub:drill:{run}/{incident.code}/{i + 1}")),
                tag=f"{incident.tag_prefix}-{i + 1:03d}", category=category,
                method="JumpSTART" if child else "START",
                age_group="child" if child else "adult",
                sex=rng.choice(("female", "male")), complaint=injury.complaint,
                needs=tuple(sorted({*injury.needs, *(("pediatric",) if child else ())})),
                lat=lat, lon=lon,
            ))
    planned.sort(key=lambda casualty: casualty.at_seconds)
    return planned
