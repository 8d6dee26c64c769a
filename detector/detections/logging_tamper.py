"""Blinding the audit trail: trails stopped or changed, selectors narrowed, log stores
sabotaged, access logging switched off (C01–C04)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import polars as pl

from detector.config import Settings
from detector.detections._examples import (
    ADMIN,
    CI,
    SERVICE,
    access_line,
    bucket_policy,
    record,
)
from detector.detections.base import EventRule, Example, Finding, register

_OK = pl.col("error_code").is_null()
_RP = pl.col("request_parameters").fill_null("")


def _api(source: str, *names: str) -> pl.Expr:
    return (pl.col("event_source") == source) & pl.col("event_name").is_in(list(names)) & _OK


@register
class TrailStoppedOrDeleted(EventRule):
    id = "cloudtrail_stopped_or_deleted"
    title = "CloudTrail trail stopped or deleted"
    severity = "high"
    capabilities = ("C01",)
    attack = ("T1562.008",)
    dedup_by = ("principal", "event_name")
    runbook = (
        "Confirm the change was planned; if not, restart logging (StartLogging), "
        "recreate the trail, and investigate the principal's recent activity."
    )
    reason_feature = "trail_change"
    reason_template = (
        "{event_name} on trail {trail} by {principal}[ from {source_ip}] ({user_agent})"
    )

    def match(self, settings: Settings) -> pl.Expr:
        return _api("cloudtrail.amazonaws.com", "StopLogging", "DeleteTrail")

    events_of = ("StopLogging", "DeleteTrail")

    def findings(self, events: pl.DataFrame, settings: Settings):  # type: ignore[override]
        events = self.candidates(events).with_columns(
            trail=pl.coalesce(
                _RP.str.json_path_match("$.name"), _RP.str.json_path_match("$.trailName")
            )
        )
        return super().findings(events, settings)

    examples = (
        Example(
            "StopLogging",
            (record("StopLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"}),),
        ),
        Example(
            "DeleteTrail",
            (record("DeleteTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"}),),
        ),
        Example(
            "failed StopLogging",
            (
                record(
                    "StopLogging",
                    "cloudtrail.amazonaws.com",
                    {"name": "org-trail"},
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
        Example(
            "StartLogging",
            (record("StartLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"}),),
            fires=False,
        ),
    )


@register
class TrailUpdated(EventRule):
    id = "cloudtrail_updated"
    title = "CloudTrail trail settings changed outside deploy roles"
    severity = "medium"
    capabilities = ("C01",)
    attack = ("T1562.008",)
    dedup_by = ("principal",)
    runbook = "Compare the trail's destination bucket, KMS key and regions with the baseline."
    reason_feature = "trail_change"
    reason_template = "UpdateTrail by {principal}: {request_parameters}"
    events_of = ("UpdateTrail",)

    def match(self, settings: Settings) -> pl.Expr:
        return _api("cloudtrail.amazonaws.com", "UpdateTrail") & ~pl.col("principal").is_in(
            list(settings.ci_roles)
        )

    examples = (
        Example(
            "UpdateTrail by a human",
            (
                record(
                    "UpdateTrail",
                    "cloudtrail.amazonaws.com",
                    {"name": "org-trail", "s3BucketName": "attacker-bucket"},
                ),
            ),
        ),
        Example(
            "UpdateTrail by the CI role",
            (
                record(
                    "UpdateTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"}, identity=CI
                ),
            ),
            fires=False,
        ),
    )


# --- event selectors (C02) ----------------------------------------------------------------
_S3_OBJECT = "AWS::S3::Object"
_BUCKET_WIDE = re.compile(r"^arn:aws[\w-]*:s3(:::[^/]*/?)?$")
"""``arn:aws:s3:::bucket/`` (or the whole partition): every object of a bucket, not a prefix."""


def _lower_keys(value: Any) -> Any:
    """JSON with every object key lower-cased: CloudTrail logs ``advancedEventSelectors`` /
    ``fieldSelectors`` / ``startsWith``, the API documents ``AdvancedEventSelectors`` / ``Field``
    / ``StartsWith``; both spellings read the same."""
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return _lower_keys(value) if isinstance(value, dict) else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _basic_gaps(selectors: list[Any]) -> list[str]:
    """What classic ``eventSelectors`` leave out: management events (``includeManagementEvents``
    false, or one ``readWriteType`` only; ``excludeManagementEventSources`` is AWS's cost
    option and not counted) and S3 object data events (none, ``values`` emptied, a prefix
    below bucket level, one read/write side only)."""
    management: set[str] = set()
    s3: list[tuple[str, list[Any]]] = []
    for sel in selectors:
        if not isinstance(sel, dict):
            continue
        rw = str(sel.get("readwritetype") or "All")
        if sel.get("includemanagementevents", True) is not False:
            management.add(rw)
        for res in _as_list(sel.get("dataresources")):
            if isinstance(res, dict) and res.get("type") == _S3_OBJECT:
                s3.append((rw, _as_list(res.get("values"))))
    gaps = [g for g in (_management_gap(management),) if g]
    if not s3:
        return [*gaps, "no S3 object data events"]
    if all(not values for _, values in s3):
        return [*gaps, "S3 data-event selector emptied (no values)"]
    wide = [rw for rw, values in s3 if any(_BUCKET_WIDE.match(str(v)) for v in values)]
    if not wide:
        gaps.append("S3 data events narrowed to object prefixes below bucket level")
    elif "All" not in wide and not {"ReadOnly", "WriteOnly"} <= set(wide):
        gaps.append(f"S3 data events {'/'.join(sorted(set(wide)))} only")
    return gaps


def _management_gap(sides: set[str]) -> str | None:
    if not sides:
        return "management events dropped"
    if "All" in sides or {"ReadOnly", "WriteOnly"} <= sides:
        return None
    return f"management events {'/'.join(sorted(sides))} only"


def _field_selectors(sel: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fs in _as_list(sel.get("fieldselectors")):
        if isinstance(fs, dict) and fs.get("field"):
            out[str(fs["field"]).lower()] = fs
    return out


def _equals(fs: dict[str, Any] | None) -> list[str]:
    return [str(v) for v in _as_list((fs or {}).get("equals"))]


def _s3_narrowing(fields: dict[str, dict[str, Any]]) -> list[str]:
    """How an S3-object advanced selector is narrower than "every S3 object event"."""
    out = []
    for name, fs in fields.items():
        if name in ("eventcategory", "resources.type"):
            continue
        ops = {op: _as_list(v) for op, v in fs.items() if op != "field" and _as_list(v)}
        if (
            name == "resources.arn"
            and set(ops) <= {"startswith"}
            and all(_BUCKET_WIDE.match(str(v)) for v in ops.get("startswith", []))
        ):
            continue  # whole buckets: AWS's documented way to log chosen buckets
        if ops:
            said = ", ".join(f"{op} {v}" for op, v in sorted(ops.items()))
            out.append(f"{fs.get('field')} {said}")
    return out


def _advanced_gaps(selectors: list[Any]) -> list[str]:
    """What ``advancedEventSelectors`` leave out. A trail logs an event that any selector
    matches, and a selector matches when all its field conditions do: management events are
    whole when one selector takes ``eventCategory = Management`` without a ``readOnly``
    condition (or two take both sides); S3 data events are whole when one selector takes
    ``eventCategory = Data`` and ``resources.type = AWS::S3::Object`` with no other condition
    than whole buckets (``resources.ARN StartsWith arn:aws:s3:::bucket/``). Excluding a
    management event source (KMS, RDS Data API: AWS's own cost options) is not counted."""
    sides: set[str] = set()
    s3_full = False
    s3_narrowed: list[str] = []
    for sel in selectors:
        if not isinstance(sel, dict):
            continue
        fields = _field_selectors(sel)
        category = _equals(fields.get("eventcategory"))
        if "Management" in category:
            read_only = _equals(fields.get("readonly"))
            if not read_only:
                sides.add("All")
            else:
                sides.update("ReadOnly" if v.lower() == "true" else "WriteOnly" for v in read_only)
        if "Data" in category and _S3_OBJECT in _equals(fields.get("resources.type")):
            narrowing = _s3_narrowing(fields)
            s3_full = s3_full or not narrowing
            s3_narrowed += narrowing
    gaps = [g for g in (_management_gap(sides),) if g]
    if not s3_full:
        gaps.append(
            f"S3 data events narrowed ({'; '.join(s3_narrowed)})"
            if s3_narrowed
            else "no S3 object data events"
        )
    return gaps


def selector_gaps(text: str | None) -> str | None:
    """What a ``PutEventSelectors`` body stops logging, in words, or null when it logs all
    management events and all S3 object data events (or the body is absent)."""
    rp = _json_object(text)
    if rp is None:
        return None
    if "advancedeventselectors" in rp:
        selectors = _as_list(rp["advancedeventselectors"])
        gaps = _advanced_gaps(selectors) if selectors else ["advanced event selectors emptied"]
    elif "eventselectors" in rp:
        selectors = _as_list(rp["eventselectors"])
        gaps = _basic_gaps(selectors) if selectors else ["event selectors emptied"]
    else:
        return None
    return "; ".join(gaps) or None


def body_map(names: tuple[str, ...], fn: Callable[[str], str | None]) -> pl.Expr:
    """``fn`` of the request body of each ``names`` call (a few rows of a batch; the others,
    and absent bodies, are null without calling it)."""

    def run(texts: pl.Series) -> pl.Series:
        out: list[str | None] = [None] * texts.len()
        for i in texts.is_not_null().arg_true().to_list():
            out[i] = fn(texts[i])
        return pl.Series(out, dtype=pl.String)

    body = pl.when(pl.col("event_name").is_in(names)).then(pl.col("request_parameters"))
    return body.map_batches(run, return_dtype=pl.String)


def selectors_gap_expr() -> pl.Expr:
    return body_map(("PutEventSelectors",), selector_gaps)


def _selectors(*selectors: dict[str, Any], advanced: bool = True) -> dict[str, Any]:
    """PutEventSelectors requestParameters as CloudTrail logs them (lowerCamel members)."""
    key = "advancedEventSelectors" if advanced else "eventSelectors"
    return {"trailName": "org-trail", key: list(selectors)}


def _sel(name: str, *fields: tuple[str, str, list[str]]) -> dict[str, Any]:
    """One advanced selector: ``(field, operator, values)`` conditions."""
    return {"name": name, "fieldSelectors": [{"field": f, op: v} for f, op, v in fields]}


_ALL_MANAGEMENT = _sel("Management events", ("eventCategory", "equals", ["Management"]))
_ALL_S3 = _sel(
    "S3 object events",
    ("eventCategory", "equals", ["Data"]),
    ("resources.type", "equals", [_S3_OBJECT]),
)


def _put_selectors(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return record("PutEventSelectors", "cloudtrail.amazonaws.com", params, **extra)


@register
class EventSelectorsNarrowed(EventRule):
    """``PutEventSelectors`` (the one API for classic ``eventSelectors`` and for
    ``advancedEventSelectors``) whose new selectors stop logging management events (none, or
    one read/write side) or S3 object data events (none, emptied, narrowed below whole
    buckets, one read/write side, some event names, excluded buckets or principals). The call
    replaces all selectors of the trail, so its body alone says what is logged from now on.
    An absent body (requestParameters null) is not judged: AWS rejects the call without
    selectors, so the log, not the caller, left them out."""

    id = "cloudtrail_selectors_narrowed"
    title = "CloudTrail event selectors drop management or S3 data events"
    severity = "high"
    capabilities = ("C02",)
    attack = ("T1562.008",)
    dedup_by = ("principal",)
    runbook = (
        "Restore the trail's selectors (management events on, S3 data events for the "
        "sensitive buckets) and review what happened while logging was narrowed."
    )
    reason_feature = "event_selectors"
    reason_template = (
        "{event_name} on trail {trail} by {principal} narrows what is logged: {selector_gaps}"
    )
    events_of = ("PutEventSelectors",)

    def match(self, settings: Settings) -> pl.Expr:
        return _api("cloudtrail.amazonaws.com", "PutEventSelectors") & (
            selectors_gap_expr().is_not_null()
        )

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        events = self.candidates(events).with_columns(
            selector_gaps=selectors_gap_expr(),
            trail=_RP.str.json_path_match("$.trailName"),
        )
        return super().findings(events, settings)

    examples = (
        Example(
            "selectors drop management events, S3 values emptied",
            (
                _put_selectors(
                    _selectors(
                        {
                            "readWriteType": "ReadOnly",
                            "includeManagementEvents": False,
                            "dataResources": [{"type": _S3_OBJECT, "values": []}],
                            "excludeManagementEventSources": [],
                        },
                        advanced=False,
                    )
                ),
            ),
        ),
        Example("event selectors emptied", (_put_selectors(_selectors(advanced=False)),)),
        Example(
            "advanced selectors with management events only",
            (_put_selectors(_selectors(_ALL_MANAGEMENT)),),
        ),
        Example(
            "advanced selectors: management writes only",
            (
                _put_selectors(
                    _selectors(
                        _sel(
                            "Management writes",
                            ("eventCategory", "equals", ["Management"]),
                            ("readOnly", "equals", ["false"]),
                        ),
                        _ALL_S3,
                    )
                ),
            ),
        ),
        Example(
            "advanced selectors: S3 data events narrowed to one prefix",
            (
                _put_selectors(
                    _selectors(
                        _ALL_MANAGEMENT,
                        _sel(
                            "S3 public assets",
                            ("eventCategory", "equals", ["Data"]),
                            ("resources.type", "equals", [_S3_OBJECT]),
                            ("resources.ARN", "startsWith", ["arn:aws:s3:::acme-www-static/img/"]),
                        ),
                    )
                ),
            ),
        ),
        Example(
            "advanced selectors: one bucket excluded from S3 data events",
            (
                _put_selectors(
                    _selectors(
                        _ALL_MANAGEMENT,
                        _sel(
                            "S3 except acme-data",
                            ("eventCategory", "equals", ["Data"]),
                            ("resources.type", "equals", [_S3_OBJECT]),
                            ("resources.ARN", "notStartsWith", ["arn:aws:s3:::acme-data/"]),
                        ),
                    )
                ),
            ),
        ),
        Example(
            "advanced selectors: S3 reads only",
            (
                _put_selectors(
                    _selectors(
                        _ALL_MANAGEMENT,
                        _sel(
                            "S3 reads",
                            ("eventCategory", "equals", ["Data"]),
                            ("resources.type", "equals", [_S3_OBJECT]),
                            ("readOnly", "equals", ["true"]),
                        ),
                    )
                ),
            ),
        ),
        Example(
            "full classic selectors (whole bucket)",
            (
                _put_selectors(
                    _selectors(
                        {
                            "readWriteType": "All",
                            "includeManagementEvents": True,
                            "dataResources": [
                                {"type": _S3_OBJECT, "values": ["arn:aws:s3:::acme-data/"]}
                            ],
                        },
                        advanced=False,
                    )
                ),
            ),
            fires=False,
        ),
        Example(
            "advanced selectors: all management and all S3 object events",
            (_put_selectors(_selectors(_ALL_MANAGEMENT, _ALL_S3)),),
            fires=False,
        ),
        Example(
            "advanced selectors: management in two halves, S3 for two whole buckets",
            (
                _put_selectors(
                    _selectors(
                        _sel(
                            "Management reads",
                            ("eventCategory", "equals", ["Management"]),
                            ("readOnly", "equals", ["true"]),
                        ),
                        _sel(
                            "Management writes",
                            ("eventCategory", "equals", ["Management"]),
                            ("readOnly", "equals", ["false"]),
                        ),
                        _sel(
                            "S3 data buckets",
                            ("eventCategory", "equals", ["Data"]),
                            ("resources.type", "equals", [_S3_OBJECT]),
                            (
                                "resources.ARN",
                                "startsWith",
                                ["arn:aws:s3:::acme-data/", "arn:aws:s3:::acme-backups/"],
                            ),
                        ),
                    )
                ),
            ),
            fires=False,
        ),
        Example(
            "selectors narrowed, call refused",
            (_put_selectors(_selectors(_ALL_MANAGEMENT), errorCode="AccessDeniedException"),),
            fires=False,
        ),
    )


# --- lifecycle rules and log buckets (C03, C05) --------------------------------------------
SHORT_DAYS = 7
"""An expiration within this many days destroys logs (or versions) before anyone looks."""
LOG_BUCKET_NAME = r"(?i)cloudtrail|trail-log|-audit|access-?log|s3-logs|(^|[.\-_])logs?([.\-_]|$)"
"""Bucket names that say they hold logs (``acme-cloudtrail-logs``, ``org-audit-trail``,
``acme-s3-access-logs``, ``logs.acme.example``)."""
LIFECYCLE_EVENTS = ("PutBucketLifecycle", "PutBucketLifecycleConfiguration")
_LOG_STORE_CHANGE = (*LIFECYCLE_EVENTS, "DeleteBucketPolicy", "PutBucketPolicy", "DeleteBucket")


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _rule_scope(rule: dict[str, Any]) -> tuple[str, bool]:
    """(prefix, narrowed by tags) of a lifecycle rule: ``Filter.Prefix``,
    ``Filter.And.Prefix`` or the legacy top-level ``Prefix``."""
    filt = rule.get("filter") if isinstance(rule.get("filter"), dict) else {}
    both = filt.get("and") if isinstance(filt.get("and"), dict) else {}
    prefix = filt.get("prefix", both.get("prefix", rule.get("prefix"))) or ""
    tagged = bool(filt.get("tag") or both.get("tag") or both.get("tags"))
    return str(prefix), tagged


def short_expiries(text: str | None, when: datetime | None) -> list[tuple[str, bool, str]]:
    """(prefix, tag-scoped, what) of each *enabled* rule of a lifecycle configuration that
    expires objects within ``SHORT_DAYS`` (Expiration Days, or an Expiration Date already
    past or that close) or noncurrent versions within ``SHORT_DAYS`` (NoncurrentDays).
    A ``Disabled`` rule expires nothing; transitions, delete-marker clean-up and aborting
    incomplete uploads destroy no data."""
    rp = _json_object(text)
    conf = rp.get("lifecycleconfiguration") if rp else None
    if not isinstance(conf, dict):
        return []
    out = []
    for rule in _as_list(conf.get("rule") or conf.get("rules")):
        if not isinstance(rule, dict) or str(rule.get("status", "")).lower() != "enabled":
            continue
        what = []
        expiration = rule.get("expiration") if isinstance(rule.get("expiration"), dict) else {}
        days = _int(expiration.get("days"))
        if days is not None and days <= SHORT_DAYS:
            what.append(f"objects expire after {days} day(s)")
        date = _date(expiration.get("date"))
        if date is not None and when is not None and date <= when + timedelta(days=SHORT_DAYS):
            what.append(f"objects expire on {date.date().isoformat()}")
        noncurrent = rule.get("noncurrentversionexpiration")
        nc_days = _int(noncurrent.get("noncurrentdays")) if isinstance(noncurrent, dict) else None
        if nc_days is not None and nc_days <= SHORT_DAYS:
            what.append(f"noncurrent versions expire after {nc_days} day(s)")
        if what:
            prefix, tagged = _rule_scope(rule)
            out.append((prefix, tagged, " and ".join(what)))
    return out


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lifecycle_map(
    pick: Callable[[list[tuple[str, bool, str]]], str | None],
) -> Callable[[pl.Series], pl.Series]:
    def run(rows: pl.Series) -> pl.Series:
        out: list[str | None] = [None] * rows.len()
        for i in rows.is_not_null().arg_true().to_list():  # lifecycle calls only
            row = rows[i]
            rules = short_expiries(row["body"], row["when"]) if row["body"] else []
            out[i] = pick(rules) if rules else None
        return pl.Series(out, dtype=pl.String)

    return run


def _lifecycle_expr(pick: Callable[[list[tuple[str, bool, str]]], str | None]) -> pl.Expr:
    body = pl.when(pl.col("event_name").is_in(LIFECYCLE_EVENTS)).then(
        pl.struct(body=pl.col("request_parameters"), when=pl.col("event_time"))
    )
    return body.map_batches(_lifecycle_map(pick), return_dtype=pl.String)


def _describe(rules: list[tuple[str, bool, str]]) -> str:
    return "; ".join(
        f"{what} (prefix {prefix!r}{', tagged objects' if tagged else ''})"
        for prefix, tagged, what in rules
    )


def short_expiry() -> pl.Expr:
    """Any enabled short-expiry rule of a lifecycle call, in words, or null."""
    return _lifecycle_expr(_describe)


def short_expiry_of_trail_logs() -> pl.Expr:
    """Short-expiry rules whose prefix is CloudTrail's delivery prefix ``AWSLogs/``."""
    return _lifecycle_expr(
        lambda rules: _describe([r for r in rules if r[0].startswith("AWSLogs/")]) or None
    )


def whole_bucket_short_expiry() -> pl.Expr:
    """Short-expiry rules on the whole bucket (no prefix, no tag filter), or null."""
    return _lifecycle_expr(
        lambda rules: _describe([r for r in rules if not r[0] and not r[1]]) or None
    )


def log_bucket(settings: Settings) -> pl.Expr:
    """A bucket that holds logs: configured, or (until discovery learns log buckets from
    deliveries) named like one (``LOG_BUCKET_NAME``)."""
    return (
        pl.col("bucket").is_in(list(settings.log_buckets))
        | pl.col("bucket").str.contains(LOG_BUCKET_NAME)
    ).fill_null(False)


_TLS_ONLY = ("aws:securetransport", "s3:tlsversion")


def deny_statement(text: str) -> str | None:
    """The first Deny statement of a ``PutBucketPolicy`` body other than the usual "TLS only"
    hardening (a condition on ``aws:SecureTransport`` / ``s3:TlsVersion`` alone), named by
    its Sid, or null. CloudTrail logs the policy as an object (sometimes as a string)."""
    try:
        policy = json.loads(text).get("bucketPolicy")
        if isinstance(policy, str):
            policy = json.loads(policy)
    except (ValueError, AttributeError):
        return None
    statements = _as_list(policy.get("Statement")) if isinstance(policy, dict) else []
    for n, st in enumerate(statements):
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        condition = st.get("Condition") if isinstance(st.get("Condition"), dict) else {}
        keys = [str(k).lower() for op in condition.values() if isinstance(op, dict) for k in op]
        if not keys or not all(k in _TLS_ONLY for k in keys):
            return str(st.get("Sid") or f"statement {n + 1}")
    return None


def sabotage(settings: Settings) -> pl.Expr:
    """What an event does to a log store, in words, or null."""
    name = pl.col("event_name")
    logs = log_bucket(settings)
    configured = pl.col("bucket").is_in(list(settings.log_buckets)).fill_null(False)
    trail_objects = pl.col("key").str.starts_with("AWSLogs/").fill_null(False)
    expiry, trail_expiry = short_expiry(), short_expiry_of_trail_logs()
    deny = body_map(("PutBucketPolicy",), deny_statement)
    return (
        pl.when(logs & expiry.is_not_null())
        .then(pl.lit("lifecycle: ") + expiry)
        .when(trail_expiry.is_not_null())
        .then(pl.lit("lifecycle on CloudTrail's delivery prefix: ") + trail_expiry)
        .when(logs & (name == "DeleteBucketPolicy"))
        .then(pl.lit("policy deleted (log delivery loses its grant)"))
        .when(logs & (name == "DeleteBucket"))
        .then(pl.lit("bucket deleted"))
        .when(logs & deny.is_not_null())
        .then(pl.lit("policy Deny statement ") + deny + pl.lit(" (not TLS-only hardening)"))
        .when(name.is_in(["DeleteObject", "DeleteObjects"]) & (configured | trail_objects))
        .then(pl.lit("log objects deleted"))
    )


def lifecycle_put(bucket: str, *rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """PutBucketLifecycle as CloudTrail logs put-bucket-lifecycle-configuration."""
    conf: dict[str, Any] = {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}
    conf["Rule"] = rules[0] if len(rules) == 1 else list(rules)
    params = {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
        "lifecycle": "",
        "LifecycleConfiguration": conf,
    }
    return record("PutBucketLifecycle", "s3.amazonaws.com", params, **extra)


def lifecycle_rule(prefix: str = "", status: str = "Enabled", **actions: Any) -> dict[str, Any]:
    return {"ID": "rule-1", "Status": status, "Filter": {"Prefix": prefix}, **actions}


@register
class LogStoreSabotage(EventRule):
    """Changes that destroy or cut off a bucket's logs: an *enabled* lifecycle rule expiring
    objects within ``SHORT_DAYS`` (Expiration Days, an Expiration Date already past or that
    close, or NoncurrentVersionExpiration), the bucket policy deleted or given a Deny that is
    not TLS-only hardening, the bucket deleted, log objects deleted.

    A log bucket is a configured one or, until discovery learns log buckets from deliveries,
    one whose name says so (``LOG_BUCKET_NAME``); a lifecycle rule on CloudTrail's delivery
    prefix ``AWSLogs/`` counts in any bucket. A ``Disabled`` rule expires nothing; a short
    expiry of ``tmp/`` in a bucket that holds no logs is housekeeping.

    Absent bodies (requestParameters null: CloudTrail omitted them, and access-log lines never
    carry them) are read by what AWS does. ``DeleteBucketPolicy`` and ``DeleteBucket`` need no
    body and fire. ``PutBucketLifecycle`` and ``PutBucketPolicy`` replace the whole
    configuration with the one in the body, which AWS requires; without it the new rules are
    unknown, so they are not judged. ``DeleteBucketLifecycle`` removes every rule: logs are
    kept longer, which is no sabotage.
    """

    id = "log_store_sabotage"
    title = "Bucket that receives logs: short expiry, deny/deleted policy, or log deletion"
    severity = "high"
    capabilities = ("C03",)
    attack = ("T1562.008", "T1485")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Check the log bucket's lifecycle and policy; restore them and verify log "
        "delivery (CloudTrail status, access-log delivery) resumed."
    )
    reason_feature = "log_bucket_change"
    reason_template = "{event_name}[ on {bucket}] by {principal}: {sabotage}"
    events_of = (*_LOG_STORE_CHANGE, "DeleteObject", "DeleteObjects")
    skip_aws_services: ClassVar[bool] = True

    def match(self, settings: Settings) -> pl.Expr:
        return _OK & sabotage(settings).is_not_null()

    def findings(self, events: pl.DataFrame, settings: Settings) -> list[Finding]:
        events = self.candidates(events)
        return super().findings(events.with_columns(sabotage=sabotage(settings)), settings)

    examples = (
        Example(
            "1-day expiry on the trail bucket",
            (lifecycle_put("acme-cloudtrail-logs", lifecycle_rule(Expiration={"Days": 1})),),
        ),
        Example(
            "7-day expiry of CloudTrail's AWSLogs/ prefix in an unconfigured bucket",
            (
                lifecycle_put(
                    "acme-org-archive", lifecycle_rule("AWSLogs/", Expiration={"Days": "7"})
                ),
            ),
        ),
        Example(
            "noncurrent versions expire after a day in a bucket named for access logs",
            (
                lifecycle_put(
                    "acme-s3-access-logs",
                    lifecycle_rule("", "Disabled", Expiration={"Days": 1}),
                    lifecycle_rule("", NoncurrentVersionExpiration={"NoncurrentDays": 1}),
                ),
            ),
        ),
        Example(
            "expiration date in the past on the trail bucket",
            (
                lifecycle_put(
                    "acme-cloudtrail-logs",
                    lifecycle_rule(Expiration={"Date": "2026-01-01T00:00:00.000Z"}),
                ),
            ),
        ),
        Example(
            "trail log objects deleted",
            (
                record(
                    "DeleteObject",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-cloudtrail-logs",
                        "key": "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/05/x.json.gz",
                    },
                ),
            ),
        ),
        Example(
            "log bucket policy deleted, seen in the access log only",
            access_lines=(
                access_line(
                    "REST.DELETE.BUCKETPOLICY",
                    "acme-cloudtrail-logs",
                    None,
                    bytes_sent=0,
                    object_size=0,
                    status=204,
                    requester=ADMIN["arn"],
                ),
            ),
        ),
        Example(
            "log bucket policy denies everyone",
            (
                record(
                    "PutBucketPolicy",
                    "s3.amazonaws.com",
                    bucket_policy(
                        "acme-cloudtrail-logs",
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": ["s3:GetObject", "s3:PutObject"],
                            "Resource": "arn:aws:s3:::acme-cloudtrail-logs/*",
                        },
                    ),
                ),
            ),
        ),
        Example(
            "CloudTrail service writing its logs",
            (
                record(
                    "PutObject",
                    "s3.amazonaws.com",
                    {"bucketName": "acme-cloudtrail-logs", "key": "AWSLogs/111122223333/x.json.gz"},
                    identity=SERVICE,
                    sourceIPAddress="cloudtrail.amazonaws.com",
                ),
            ),
            fires=False,
        ),
        Example(
            "365-day expiry on the trail bucket",
            (lifecycle_put("acme-cloudtrail-logs", lifecycle_rule(Expiration={"Days": 365})),),
            fires=False,
        ),
        Example(
            "disabled 1-day rule on the trail bucket",
            (
                lifecycle_put(
                    "acme-cloudtrail-logs", lifecycle_rule("", "Disabled", Expiration={"Days": 1})
                ),
            ),
            fires=False,
        ),
        Example(
            "3-day expiry of tmp/ in a bucket that holds no logs",
            (
                lifecycle_put(
                    "acme-analytics-scratch", lifecycle_rule("tmp/", Expiration={"Days": 3})
                ),
            ),
            fires=False,
        ),
        Example(
            "transitions and upload clean-up on the trail bucket",
            (
                lifecycle_put(
                    "acme-cloudtrail-logs",
                    lifecycle_rule(
                        Transition={"Days": 30, "StorageClass": "GLACIER"},
                        AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1},
                    ),
                ),
            ),
            fires=False,
        ),
        Example(
            "lifecycle put seen in the access log only (rules unknown)",
            access_lines=(
                access_line(
                    "REST.PUT.LIFECYCLE",
                    "acme-cloudtrail-logs",
                    None,
                    bytes_sent=0,
                    object_size=0,
                    requester=ADMIN["arn"],
                ),
            ),
            fires=False,
        ),
        Example(
            "TLS-only Deny on the trail bucket policy",
            (
                record(
                    "PutBucketPolicy",
                    "s3.amazonaws.com",
                    bucket_policy(
                        "acme-cloudtrail-logs",
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                "arn:aws:s3:::acme-cloudtrail-logs",
                                "arn:aws:s3:::acme-cloudtrail-logs/*",
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ),
                ),
            ),
            fires=False,
        ),
    )


@register
class AccessLoggingDisabled(EventRule):
    """``PutBucketLogging`` whose ``BucketLoggingStatus`` has no ``LoggingEnabled``: AWS turns
    server access logging off. An absent body (requestParameters null, as on every access-log
    line) says nothing about what was set, so it is not judged."""

    id = "s3_access_logging_disabled"
    title = "S3 server access logging switched off"
    severity = "medium"
    capabilities = ("C04",)
    attack = ("T1562.008",)
    dedup_by = ("principal", "bucket")
    runbook = "Re-enable server access logging on the bucket and ask who turned it off."
    reason_feature = "bucket_logging"
    reason_template = "PutBucketLogging without LoggingEnabled[ on {bucket}] by {principal}"
    events_of = ("PutBucketLogging",)

    def match(self, settings: Settings) -> pl.Expr:
        # Access-log lines carry no request body: only CloudTrail shows what was set.
        return (
            _api("s3.amazonaws.com", "PutBucketLogging")
            & pl.col("request_parameters").is_not_null()
            & ~_RP.str.contains('"LoggingEnabled"')
        )

    examples = (
        Example(
            "logging status emptied",
            (
                record(
                    "PutBucketLogging",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"},
                        "logging": "",
                    },
                ),
            ),
        ),
        Example(
            "logging enabled",
            (
                record(
                    "PutBucketLogging",
                    "s3.amazonaws.com",
                    {
                        "bucketName": "acme-data",
                        "BucketLoggingStatus": {
                            "LoggingEnabled": {
                                "TargetBucket": "acme-logs",
                                "TargetPrefix": "acme-data/",
                            }
                        },
                        "logging": "",
                    },
                    identity=ADMIN,
                ),
            ),
            fires=False,
        ),
    )
