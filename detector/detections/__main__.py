"""``python -m detector.detections`` prints docs/detections.md from the registry."""

from __future__ import annotations

from detector.detections import load_all
from detector.detections.base import Detection

GUIDE = """\
## From signals to notifications

Every alert a detection raises is a **signal**, written to `<lake>/alerts` with an
`incident_id` and a `status`. Only signals with status `notify` reach Slack, SNS and
`--alerts FILE`; the others are recorded for hunting and say why they were not sent.

- **Incidents** (`detector/incidents.py`). A signal joins the open incident of its principal
  (or, without one, of its bucket); the incident stays open while signals keep coming within
  `[incidents] horizon_hours` (24) of the latest. The sinks hear of it once when it reaches
  `[incidents] notify` severity (`medium`), and again only when a signal raises its severity
  or brings a capability not yet sent. Otherwise a signal is `weak` (below the notify
  severity, nothing sent for the incident yet) or `grouped` (sent already). A recorded signal
  that later grows past its severity is judged anew as a new alert.
- **Learning period.** The detector knows when its data began (the first event's time, kept
  in the state). Detections marked *learns* below (behavioural ones: baselines, newness,
  habits) record their signals as `learning` until the data spans `[learning] days` (7, in
  the spirit of GuardDuty's 7–14 days). Tampering rules fire from the first event. After the
  learning period a new principal is judged against its peers (same account and principal
  type) until it has its own baseline (models/README.md).
- **Habits.** What a principal has done routinely is not an alert. Newness detections (new
  network, agent family, bucket, operation, endpoint) compare with the principal's own
  30-day memory. Attribute rules marked *habit* (a bulk S3 client, a posture scanner) are
  recorded as `habit` when the principal already used that value on an earlier day (20 h or
  more before) and still uses it; rules judged by repetition (credential-like object reads,
  website publishing) when the principal raised the same finding on the same bucket on an
  earlier day (a CI role reading its Terraform state nightly, a deploy role publishing).
  Posture scanners (Prowler, ScoutSuite, CloudSploit) are a weak signal (low). Volume
  bursts: windows that deviate never teach the baseline (an attack must not), so a job that
  bursts once a day or once a week would deviate every time; a burst at most 3× one the
  principal showed on an earlier day within 14 days is routine and dropped
  (`Profile.routine_burst`); so is a burst within two hours of the same hour of the week as
  an earlier burst (a weekly rebuild or scan keeps its schedule). A principal active on two
  or more days over at least a week is *routine*: a never-worked hour that touches no
  objects from known networks and agents is weak, and the first data reads of a weekly job
  are not rare operations. Networks: a principal that roams (new networks first seen on
  three or more days, a third of its days or more: CI runners, laptops) has no NAT
  baseline, and a window whose networks are all new while nothing else is (a NAT egress
  change) is weak. Calls AWS services make for a principal (`invokedBy`, service host
  agents) carry no network at all. Turning Block Public Access fully on is not a new
  permission operation; a bucket is new to a principal only by its own object requests
  (`data_buckets`), not by what services did on its behalf; writes all into buckets new to
  the principal are uploads, not a sweep. Bad regardless of history, and so never a habit:
  offensive tooling and attack distributions, threat-intel addresses and the built-in Tor
  exit operator networks (`detector/tor_exits.py`; `[threat_intel] builtin_tor = false`
  turns them off), foreign VPC endpoints (instance credentials through one included), one
  presigned URL fetched from ten or more addresses, refusal storms by callers without
  history, decoys, and every tampering rule; a principal repeating one is one incident, not
  a stream. Instance credentials from a public address are judged against the instance
  role's usual networks (a public-subnet or NAT instance calls from its own address every
  day).
- **Attack sequences** (`attack_sequence`). Signals of three or more attack stages by one
  identity within the incident horizon (discovery, permission change, access path,
  collection, exfiltration, destruction, re-encryption, blinding of logs or detectors; each
  capability maps to one stage in `detector.incidents.STAGES`), weak ones included, raise
  one critical notification whose reasons are the ordered timeline, like GuardDuty's
  Extended Threat Detection. `exfiltrate_then_destroy` remains the specific C24 pattern.
- **One way to write a detection.** A detection subclasses the base of its stage and
  implements one method: `EventRule.match` (a polars expression over a batch of events),
  `WindowDetection.check` (a scored window; `per_bucket` to see principal×bucket windows
  too), `AlertCorrelation.observe` (every alert raised), `IncidentDetection.conclude` (an
  incident as it grows) or `SilenceDetection.check` (log-stream volume), with optional
  `learns`, `habit`/`habit_of`, severity and dedup hooks. It registers with `@register`;
  the engine dispatches on the stage base classes and never imports a detection. One
  detection per alert, incident and silence stage is run today.
- **Discovery** (`detector/discovery.py`). Without configuration the detector learns from
  the logs our accounts (CloudTrail recipient accounts), log buckets (the `s3://` buckets
  logs are read from, CloudTrail deliveries, `CreateTrail`/`UpdateTrail` `s3BucketName`,
  `PutBucketLogging` `TargetBucket`), partner accounts (foreign accounts whose principals
  used our buckets successfully on 3+ days) and website buckets (`PutBucketWebsite`,
  `WEBSITE.*` access-log operations); rules then see them as if configured. A setting the
  configuration gives overrides discovery. `detector discover --lake L` prints it with
  evidence counts, plus automation principals and VPC endpoints per principal.
- **Horizons.** Spikes are judged per 5-minute window (per principal and per
  principal×bucket); a sustained excess over hours by a CUSUM of the standardised log
  excess over a slow mean (`sustained_read_excess`, and `sustained_write_excess` for
  overwrite and write bursts held for hours); habits over days (bursts and values
  seen on earlier days); incidents and sequences over 24 hours. models/README.md has the
  statistics.
"""


def _learns(d: Detection) -> str:
    partly = type(d).learns_on is not Detection.learns_on
    marks = ["partly" if partly else "yes" if d.learns else ""]
    if d.habit is not None or type(d).habit_of is not Detection.habit_of:
        marks.append("habit")
    return ", ".join(m for m in marks if m) or "-"


def render() -> str:
    registry = load_all()
    lines = [
        "# Detections",
        "",
        "Generated from the registry by `python -m detector.detections > docs/detections.md`; "
        "a test fails when it is stale. Capabilities are those of "
        "[shared/DETECTIONS.md](../../shared/DETECTIONS.md).",
        "",
        *GUIDE.splitlines(),
        "",
        "## Every detection",
        "",
        "*learns*: behavioural (recorded as `learning` during the learning period); *habit*: "
        "judged against the principal's own history (a value it used on an earlier day is "
        "recorded as `habit`).",
        "",
        "| capability | detection | kind | learns | severity | title | ATT&CK | dedup |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = sorted(registry.values(), key=lambda d: (min(d.capabilities), d.id))
    for d in rows:
        window = int(d.dedup_window.total_seconds() // 60)
        lines.append(
            f"| {', '.join(d.capabilities)} | `{d.id}` | {d.kind} | {_learns(d)} | {d.severity} | "
            f"{d.title} | {', '.join(d.attack)} | {', '.join(d.dedup_by)} / "
            f"{window} min |"
        )
    covered = sorted(
        {c for d in registry.values() for c in d.capabilities}, key=lambda c: int(c[1:])
    )
    lines += ["", f"Capabilities covered: {len(covered)} of 32 ({', '.join(covered)}).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
