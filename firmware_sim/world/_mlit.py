"""Expected MLIT-style inspection outcome of a ground-truth fixture (category, member damage
degrees, soundness grade I-IV), so that a report made from drone photos can be scored.

The grade rule here is the simulator's own default, not MLIT's: the guideline leaves grading
to the inspector and the road authority calibrates the rules (see DOMAIN.md section 1).
"""

from __future__ import annotations

from typing import Any

from firmware_sim.world._model import Fixture

__all__ = ["GRADE_RULE_ID", "expected_grade", "mlit_summary"]

GRADE_RULE_ID = "michimori-sim-default-v1"

_CATEGORY_JA = {"sign": "道路標識", "light_pole": "道路照明施設", "guardrail": "防護柵"}
_MEMBERS = {
    "sign": ("post", "plate", "base"),
    "light_pole": ("pole", "arm", "luminaire", "base"),
    "guardrail": ("rail", "post"),
}


def expected_grade(fixture: Fixture) -> str:
    """I (sound) .. IV (urgent) by the simulator's default rule:
    IV: severe corrosion at the ground line of a pole/post (section loss where it carries the
        most bending), or tilt >= 5 degrees;
    III: any severe (degree e) defect, or tilt >= 2 degrees;
    II: any defect;
    I: none."""
    severe_foot = any(
        d.type == "corrosion"
        and d.degree == "e"
        and d.member.split(":")[0] in ("pole", "post")
        and d.s0_m < 0.5
        for d in fixture.defects
    )
    if severe_foot or fixture.tilt_deg >= 5.0:
        return "IV"
    if any(d.degree == "e" for d in fixture.defects) or fixture.tilt_deg >= 2.0:
        return "III"
    if fixture.defects:
        return "II"
    return "I"


def mlit_summary(fixture: Fixture) -> dict[str, Any]:
    members = {m: "a" for m in _MEMBERS[fixture.kind]}
    for d in fixture.defects:
        member = d.member.split(":")[0]
        if members.get(member) != "e":
            members[member] = d.degree
    return {
        "category_ja": _CATEGORY_JA[fixture.kind],
        "member_damage_degree": members,
        "expected_grade": expected_grade(fixture),
        "grade_rule": GRADE_RULE_ID,
    }
