"""Habits of an established principal: operations it never used, permission changes it
never makes, hours it never works (C08, C28, C29)."""

from __future__ import annotations

from datetime import timedelta

from detector.config import Settings
from detector.detections.base import Finding, Reason, register
from detector.detections.window_base import Verdict, WindowDetection
from detector.features.enrich import CONFIG, PERMISSION

OFF_HOURS_DATA = 20
"""Object reads, writes and deletes in an off-hours window that make it medium."""
RARE_TIME_TOUCHED = 5
"""Objects listed, read, written or deleted from which code's call at a never-worked time
from known ground is medium rather than weak (for people: one)."""
RARE_HOUR_HISTORY = 50
"""Windows of history before an hour of the week can be called rare ..."""
RARE_HOUR_AGE = timedelta(days=7)
"""... and a week of it, so that every weekday has been seen."""
NEVER_DAY_HISTORY = timedelta(days=10)
"""Ten days (every weekday seen, most twice) without a given weekday make "never works
that day" a habit."""


DATA_READS = frozenset({"GetObject", "SelectObjectContent", "RestoreObject"})
"""Operations that read object data."""
PEOPLE_AGENTS = frozenset({"console", "browser"})
"""Agent families only people use: a role seen with them is a federated human's role."""
FAMILIAR_HOUR_SHARE = 0.05
"""Share of a principal's windows within an hour of this one that makes the hour usual."""


def automation(v: Verdict) -> bool:
    """Roles that run code (not people, whose networks and operations vary by nature): not
    an SSO role, and never used from the console or a browser (SAML roles of people, e.g.
    through Okta, are roles too)."""
    if ":role/" not in v.principal or "AWSReservedSSO_" in v.principal or "@" in v.principal:
        return False
    return v.profile is None or not PEOPLE_AGENTS & set(v.profile.seen["agents"])


def person(v: Verdict) -> bool:
    """A person's principal: an SSO or federated (e-mail session) role, or one used from
    the console or a browser."""
    if "AWSReservedSSO_" in v.principal or "@" in v.principal:
        return True
    return v.profile is not None and bool(PEOPLE_AGENTS & set(v.profile.seen["agents"]))


def familiar(v: Verdict) -> bool:
    """Nothing in the window is new to the principal (buckets, networks, clients) and it is
    at an hour it often works: a person doing more of their usual work."""
    p = v.profile
    if p is None or not v.established:
        return False
    if v.news.get("buckets") or v.news.get("ip_prefixes") or v.new_clients:
        return False
    hours = [(v.window["hour"] + d) % 24 for d in (-1, 0, 1)]
    return sum(p.hours[h] for h in hours) >= FAMILIAR_HOUR_SHARE * max(sum(p.hours), 1)


@register
class AnomalousPermissionChange(WindowDetection):
    id = "anomalous_permission_change"
    title = "Permission change by a principal that does not make them"
    severity = "medium"
    capabilities = ("C08",)
    attack = ("T1098", "T1222")
    runbook = "Review the policy/ACL change and who approved it; revert if unplanned."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        if not v.established or v.principal in settings.ci_roles:
            return None
        new_ops = [o for o in v.news.get("operations") or [] if o in PERMISSION]
        if not new_ops:
            return None
        return v.finding(
            self,
            [
                Reason(
                    "new_permission_operation",
                    ", ".join(new_ops),
                    "never before",
                    f"first {', '.join(new_ops)} by this principal",
                )
            ],
            5.0,
        )


@register
class RareApi(WindowDetection):
    id = "rare_api_for_principal"
    title = "First-seen S3 or config operation for an established principal"
    severity = "low"
    capabilities = ("C29",)
    attack = ("T1580",)
    runbook = "Check whether the new operation fits the principal's purpose."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        if not (v.established or v.routine) or v.principal in settings.ci_roles:
            return None
        if not automation(v):
            return None
        seen = v.profile.seen["operations"] if v.profile else {}
        reads_data = any(o in seen for o in DATA_READS)
        # A role that only ever read settings now reads data (a scanner's credentials). A
        # rarely running job (weekly) is judged on that alone: its few runs show what kind
        # of work it does, not every API it may call.
        new_ops = [
            o
            for o in v.news.get("operations") or []
            if o not in PERMISSION
            and (
                (o in DATA_READS and not reads_data)
                or (v.established and (o in CONFIG or o.startswith(("GetBucket", "PutBucket"))))
            )
        ]
        if not new_ops:
            return None
        # Code does not start calling new APIs on its own: medium for automation roles.
        return v.finding(
            self,
            [
                Reason(
                    "new_operation",
                    ", ".join(new_ops),
                    "never before",
                    f"first {', '.join(new_ops)} by this principal",
                )
            ],
            3.0,
            "medium",
        )


@register
class RareTime(WindowDetection):
    id = "rare_time_of_day"
    title = "Activity well outside the principal's hours and weekdays"
    severity = "low"
    capabilities = ("C28",)
    attack = ("T1078",)
    runbook = "Ask the owner whether they worked at that time."

    def check(self, v: Verdict, settings: Settings) -> Finding | None:
        p, w = v.profile, v.window
        if (
            p is None
            or p.windows < RARE_HOUR_HISTORY
            or w["window_start"] - p.first_seen < RARE_HOUR_AGE
        ):
            return None
        total = sum(p.hours)
        hours = [(w["hour"] + d) % 24 for d in (-1, 0, 1)]
        hour_share = sum(p.hours[h] for h in hours) / max(total, 1)
        weekday_share = p.weekdays[w["weekday"] - 1] / max(sum(p.weekdays), 1)
        # A rare hour on a working day (a late evening) is not enough. Time this principal
        # never works is a weekday it has not worked in ten days or more, at an hour it
        # rarely works; or a weekday and an hour that are both rare.
        never_this_day = (
            weekday_share == 0 and w["window_start"] - p.first_seen >= NEVER_DAY_HISTORY
        )
        if not (
            (never_this_day and hour_share <= 0.05) or (hour_share <= 0.02 and weekday_share < 0.01)
        ):
            return None
        # A rare hour on a rare day is how people work now and then (an on-call night: a
        # weak signal that joins an attack sequence). A weekday never worked at an hour
        # never worked, or off-hours moving data, is what an intruder elsewhere does.
        moved = sum(w.get(f, 0) for f in ("n_read", "n_write", "n_delete"))
        strong = never_this_day and hour_share <= 0.05
        # A never-worked time from the principal's own network and client is weak when it
        # touches no objects (a person fixing something on call) or, for code, a handful
        # (a job's stray call between its runs: code runs when it is triggered). New
        # ground, or a person's hands on objects, is not.
        novel = bool(v.news.get("ip_prefixes") or v.new_clients)
        touched = moved + w.get("n_list", 0)
        strong = strong and (novel or touched >= (RARE_TIME_TOUCHED if automation(v) else 1))
        severity = "medium" if strong or moved >= OFF_HOURS_DATA else "low"
        return v.finding(
            self,
            [
                Reason(
                    "hour",
                    f"{w['hour']:02d}:00 UTC, weekday {w['weekday']}",
                    "never at this hour",
                    "activity at an hour this principal never works",
                )
            ],
            3.0,
            severity,
        )
