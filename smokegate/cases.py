"""What a report says about one test case, independent of pytest.

A case is one rule on one target. Its identity (check, target), its severity and
what was measured travel with the pytest report (also across xdist workers) as a
plain dict, so every report writer reads the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from smokegate.severity import Severity
from smokegate.verdict import Verdict

DEFAULT_SEVERITY = Severity.HIGH


@dataclass(frozen=True)
class CaseInfo:
    check: str
    target: str
    severity: Severity
    kind: str = ""
    location: str = ""
    measured: str = ""
    hint: str = ""
    account: str = ""  # the AWS account of an IAM case of a multi-account audit
    # another host than the target's that answered after a redirect ("" when none did)
    answered_by: str = ""
    # where an IAM audit's requests went, when not simply to AWS (facts.iam.routes_text)
    aws_routes: str = ""

    def with_verdict(self, verdict: Verdict) -> CaseInfo:
        return replace(
            self,
            measured=verdict.measured,
            hint=verdict.hint,
            answered_by=verdict.extra.get("answered_by", ""),
            aws_routes=verdict.extra.get("aws_routes", ""),
        )

    def to_dict(self) -> dict[str, str]:
        # Hand-written rather than dataclasses.asdict: called for every phase of every case.
        return {
            "check": self.check,
            "target": self.target,
            "severity": self.severity.value,
            "kind": self.kind,
            "location": self.location,
            "measured": self.measured,
            "hint": self.hint,
            "account": self.account,
            "answered_by": self.answered_by,
            "aws_routes": self.aws_routes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseInfo:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "severity": Severity(data["severity"])})


def resolve_severity(
    target: object,
    section_default: Severity | None,
    env_default: Severity | None,
    check_default: Severity | None,
) -> Severity:
    """The entry's own severity first, then its section's (`iam.severity`), then the env's
    `defaults.severity`, then the check's own default."""
    own = getattr(target, "severity", None)
    return own or section_default or env_default or check_default or DEFAULT_SEVERITY


def case_facts(case: CaseInfo) -> str:
    """'severity: high' lines: the case's facts where every JUnit consumer shows them."""
    facts = [
        ("check", case.check),
        ("account", case.account),
        ("target", case.target),
        ("location", case.location),
        ("severity", case.severity.value),
        ("measured", case.measured),
    ]
    return "".join(f"{key}: {value}\n" for key, value in facts if value)


def case_label(check: str, target: str) -> str:
    """'endpoint api-health', or just 'password_policy' for a check whose only case is
    named after itself: a reader should not meet "password_policy password_policy"."""
    return check if target == check else f"{check} {target}"


def failure_message(case: CaseInfo, verdict: Verdict, severity_label: str = "") -> str:
    """The failure text: its first line stands alone in a CI UI that shows nothing else.
    `severity_label` is what the bracket says ("medium (below gate: --fail-on high)"):
    a CI page that shows only this message must still tell whether it decided the run."""
    where = f" ({case.location})" if case.location and case.location != case.target else ""
    label = severity_label or case.severity.value
    lines = [f"[{label}] {case_label(case.check, case.target)}{where}: {verdict.message}"]
    if verdict.measured:
        lines.append(f"measured: {verdict.measured}")
    if verdict.detail:
        lines.append(verdict.detail)
    if verdict.hint:
        lines.append(f"hint: {verdict.hint}")
    return "\n".join(lines)
