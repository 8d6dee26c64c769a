"""Alert sinks and the outbox, against real servers: a local Slack stand-in and moto."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import SlackReceiver, free_port

from detector.alerts import Alert
from detector.errors import DeliveryError, UsageError
from detector.sinks import Outbox, Route, Sink, parse_sink_spec
from detector.sinks.jsonl import JsonlSink
from detector.sinks.slack import SlackSink, escape_mrkdwn, inline_code, slack_message
from detector.sinks.sns import MESSAGE_MAX, SnsSink, sns_message, sns_subject

HUNT = "detector hunt --lake ./lake principal 'arn:aws:iam::111122223333:role/app'"


def make_alert(
    i: int = 1, severity: str = "high", detection: str = "bulk_s3_client", **overrides: Any
) -> dict[str, Any]:
    """An alert dict shaped exactly as ``Alert`` serialises (sinks get these dicts)."""
    alert = asdict(
        Alert(
            alert_id=f"{i:024x}",
            detection=detection,
            capabilities=["C01"],
            attack=["T1530"],
            title="Bulk download with an S3 sync client",
            severity=severity,
            score=0.93,
            principal="arn:aws:iam::111122223333:role/app",
            account_id="111122223333",
            first_seen="2026-11-02T10:00:00Z",
            last_seen="2026-11-02T10:05:00Z",
            detected_at="2026-11-02T10:05:00Z",
            evidence_event_ids=[f"ev-{n}" for n in range(8)],
            evidence_total=120,
            buckets=["data"],
            source_ips=["203.0.113.7"],
            user_agents=["aws-cli/2.15.0"],
            vpc_endpoint_ids=[],
            reasons=[
                {
                    "feature": "bytes_out",
                    "observed": "9.1 GB",
                    "baseline": "40 MB",
                    "text": "9.1 GB read in 5 minutes, 230x its usual peak",
                }
            ],
            runbook="Confirm with the role's owner; revoke its sessions if unexpected.",
            hunt=HUNT,
        )
    )
    alert.update(overrides)
    return alert


def jsonl_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["alert_id"] for line in path.read_text().splitlines()]


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# --- specs, secrets, routes ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "kind", "target"),
    [
        ("slack=https://hooks.slack.com/services/T0/B0/xyz", "slack", r"slack-[0-9a-f]{12}"),
        (
            "sns=arn:aws:sns:eu-west-1:111122223333:alerts",
            "sns",
            r"sns-eu-west-1-111122223333-alerts",
        ),
        (
            "sns=arn:aws-us-gov:sns:us-gov-west-1:111122223333:a.fifo",
            "sns",
            r"sns-us-gov-west-1-111122223333-a-fifo",
        ),
        ("jsonl=-", "jsonl", r"jsonl-stdout"),
    ],
)
def test_parse_sink_spec(spec: str, kind: str, target: str) -> None:
    sink = parse_sink_spec(spec)
    assert sink.name == kind
    assert re.fullmatch(target, sink.target_id)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("https://hooks.slack.com/services/T0/B0/secret", "kind=value"),
        ("=x", "kind=value"),
        ("teams=https://example.com/x", "unknown sink kind 'teams'; known: jsonl, slack, sns"),
        ("slack=", "empty value"),
        ("slack=ftp://hooks.slack.com/secret", "http(s) URL"),
        ("slack=https:///secret", "http(s) URL"),
        ("slack=https://hooks.slack.com/sec ret", "http(s) URL"),
        ("sns=arn:aws:sqs:us-east-1:111122223333:secret", "topic ARN"),
        ("sns=arn:aws:sns:us-east-1:1234:secret", "topic ARN"),
        ("sns=secret", "topic ARN"),
        ("jsonl=/no/such/dir/secret.jsonl", "does not exist"),
    ],
)
def test_parse_sink_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_sink_spec(spec)
    assert message in str(err.value)
    if "jsonl" not in spec:
        assert "secret" not in str(err.value)


def test_jsonl_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        parse_sink_spec(f"jsonl={tmp_path}")


def test_secrets_from_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = "https://hooks.slack.com/services/T0/B0/token123"
    direct = parse_sink_spec(f"slack={url}")
    monkeypatch.setenv("ALERT_HOOK", url)
    (tmp_path / "hook").write_text(url + "\n")
    from_env = parse_sink_spec("slack=env:ALERT_HOOK")
    from_file = parse_sink_spec(f"slack=file:{tmp_path / 'hook'}")
    assert direct.target_id == from_env.target_id == from_file.target_id
    for sink in (direct, from_env, from_file):
        assert "token123" not in sink.target_id + sink.label + repr(sink)
        assert sink.label.startswith("slack:hooks.slack.com/…/")

    with pytest.raises(UsageError, match="NO_SUCH_VAR is not set"):
        parse_sink_spec("slack=env:NO_SUCH_VAR")
    with pytest.raises(UsageError, match="cannot read secret file"):
        parse_sink_spec(f"slack=file:{tmp_path / 'missing'}")
    monkeypatch.setenv("BAD_HOOK", "ftp://token456")
    with pytest.raises(UsageError) as err:
        parse_sink_spec("slack=env:BAD_HOOK")
    assert "token456" not in str(err.value)
    monkeypatch.setenv("TOPIC", "arn:aws:sns:us-east-1:111122223333:t")
    assert parse_sink_spec("sns=env:TOPIC").target_id == "sns-us-east-1-111122223333-t"


@pytest.mark.parametrize(
    ("route", "alert", "accepted"),
    [
        (Route(), make_alert(severity="low"), True),
        (Route(), make_alert(severity="info"), False),
        (Route("high"), make_alert(severity="medium"), False),
        (Route("high"), make_alert(severity="critical"), True),
        (Route("low", include=("canary",)), make_alert(detection="canary"), True),
        (Route("low", include=("canary",)), make_alert(detection="other"), False),
        (Route("low", exclude=("noisy",)), make_alert(detection="noisy"), False),
        (Route("critical"), make_alert(severity="bogus"), True),
    ],
)
def test_route_accepts(route: Route, alert: dict[str, Any], accepted: bool) -> None:
    assert route.accepts(alert) is accepted


def test_route_validation() -> None:
    with pytest.raises(UsageError, match="min_severity 'urgent'"):
        Route("urgent")
    with pytest.raises(UsageError, match="unknown detection id"):
        Route(include=("nope",)).check(["canary"], "pipeline.toml [[sinks]] 1")


# --- Slack: the message -------------------------------------------------------------------
HOSTILE = make_alert(
    principal="<@U0123> *boss*",
    user_agents=["<!channel>", "<https://evil.example|click here>", "ok`agent`\n*Urgent*"],
    buckets=["b&b", "~strike~"],
    evidence_event_ids=["`*_key_*`"],
    reasons=[
        {
            "feature": "key",
            "observed": "1",
            "baseline": None,
            "text": "read key `_*secret*_`\n<!here> <#C123>",
        }
    ],
    hunt="detector hunt 'ua = ''<!channel>'' and k = ''```'''",
)


def _texts(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        out = [payload["text"]] if isinstance(payload.get("text"), str) else []
        return out + [t for v in payload.values() for t in _texts(v)]
    if isinstance(payload, list):
        return [t for v in payload for t in _texts(v)]
    return []


def test_slack_message_makes_log_values_inert() -> None:
    payload = slack_message(HOSTILE)
    body = json.dumps(payload, ensure_ascii=False)
    assert "&lt;!channel&gt;" in body and "&lt;https://evil.example|click here&gt;" in body
    assert "&lt;@U0123&gt;" in body and "&lt;!here&gt;" in body and "b&amp;b" in body
    for text in _texts(payload):
        assert "<" not in text and ">" not in text, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    for text in _texts(payload):
        if "```" not in text:
            # every backtick opens or closes one of our code spans: values cannot escape them
            assert text.count("`") % 2 == 0, text
    evidence = next(t for t in _texts(payload) if "User agents" in t)
    assert "`okˋagentˋ\\n*Urgent*`" in evidence  # the newline cannot start a line
    assert "`ˋ*_key_*ˋ`" in evidence
    reasons = next(
        b
        for b in payload["blocks"]
        if b.get("text", {}).get("type") == "plain_text" and b["type"] == "section"
    )
    assert "\n<" not in reasons["text"]["text"] and "\\n&lt;!here&gt;" in reasons["text"]["text"]
    hunt = payload["blocks"][-2]["text"]["text"]
    assert hunt.startswith("*Dig further:*\n```") and hunt.count("```") == 2


def test_escape_helpers() -> None:
    assert escape_mrkdwn("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"
    assert inline_code(None) == "-"
    assert inline_code("x" * 500, 50) == "`" + "x" * 47 + "…`"
    assert inline_code("&" * 100, 20).endswith("…`")  # never cuts an entity
    assert not re.search(r"&[a-z]{0,2}…", inline_code("&" * 100, 20))
    assert inline_code("a\u202eb") == "`a\\u202eb`"  # bidi override shown


def test_slack_message_layout_and_limits() -> None:
    payload = slack_message(make_alert())
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Bulk download with an S3 sync client",
            "emoji": False,
        },
    }
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert ":red_circle: HIGH" in fields and "`bulk_s3_client`" in fields
    assert "`arn:aws:iam::111122223333:role/app`" in fields and "`111122223333`" in fields
    text = json.dumps(payload)
    assert "9.1 GB read in 5 minutes" in text and "Confirm with the role" in text
    assert "(5 of 120 events)" in text and "`ev-4`" in text and "`ev-5`" not in text
    assert blocks[-2]["text"]["text"] == f"*Dig further:*\n```{HUNT}```"
    assert payload["text"].startswith("HIGH Bulk download with an S3 sync client by `arn:")

    without = make_alert()
    del without["hunt"]
    assert "Dig further" not in json.dumps(slack_message(without))

    huge = make_alert(
        title="T" * 400,
        user_agents=["u" * 5000] * 10,
        buckets=["b" * 3000] * 10,
        reasons=[{"text": "r" * 5000}] * 40,
        hunt="h" * 10_000,
        runbook="x" * 5000,
        principal="p" * 5000,
    )
    payload = slack_message(huge)
    assert len(payload["blocks"]) <= 50
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    for block in payload["blocks"]:
        if "text" in block:
            assert 0 < len(block["text"]["text"]) <= 3000
        for f in block.get("fields", []):
            assert len(f["text"]) <= 2000
    assert len(payload["text"]) <= 300
    assert slack_message({"alert_id": "x"})["blocks"][0]["text"]["text"] == "alert"


# --- Slack: delivery ----------------------------------------------------------------------
def test_slack_send_classifies_answers(slack_receiver: SlackReceiver) -> None:
    slack_receiver.script = [
        (429, {"Retry-After": "7"}),
        (503, {}),
        (404, {}),
        (302, {"Location": "http://127.0.0.1:9/elsewhere"}),
    ]
    sink = SlackSink(slack_receiver.url)
    outcomes = []
    for _ in range(4):
        with pytest.raises(DeliveryError) as err:
            sink.send(make_alert())
        outcomes.append((err.value.retryable, err.value.retry_after))
        assert "secret" not in err.value.reason
    assert outcomes == [(True, 7.0), (True, None), (False, None), (False, None)]
    sink.send(make_alert())
    sent = slack_receiver.delivered()
    assert len(sent) == 1 and sent[0]["blocks"][0]["type"] == "header"
    assert slack_receiver.requests[-1]["headers"]["Content-Type"].startswith("application/json")

    with pytest.raises(DeliveryError) as err:
        SlackSink(f"http://127.0.0.1:{free_port()}/hook").send(make_alert())
    assert err.value.retryable and "connection failed" in err.value.reason


def test_slack_429_and_500_are_retried_once_delivered(
    slack_receiver: SlackReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack_receiver.script = [(429, {"Retry-After": "1"}), (500, {})]
    sink = SlackSink(slack_receiver.url)
    with Outbox(tmp_path / "_delivery", [(sink, Route())], backoff=0.05) as outbox:
        outbox.start([])
        outbox.submit([HOSTILE])
        assert outbox.drain(10)
        assert outbox.delivered == {sink.target_id: 1}
    attempts = slack_receiver.requests
    assert [r["status"] for r in attempts] == [429, 500, 200]
    assert attempts[1]["at"] - attempts[0]["at"] >= 0.95  # Retry-After honoured
    assert attempts[2]["at"] - attempts[1]["at"] < 0.9  # then plain backoff
    assert len(slack_receiver.delivered()) == 1
    raw = attempts[-1]["body"].decode()
    assert "<!channel>" not in raw and "<https://evil" not in raw and "&lt;!channel&gt;" in raw
    # the webhook URL is a credential: not in logs, journals or file names
    stored = "".join(p.name + p.read_text() for p in (tmp_path / "_delivery").iterdir())
    for text in (caplog.text, stored):
        assert "secret" not in text and "/services/" not in text
    assert "HTTP 429" in caplog.text and sink.label in caplog.text


# --- SNS ----------------------------------------------------------------------------------
def _topic_with_queue(fifo: bool = False) -> tuple[str, Any, str]:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    return topic, sqs, queue_url


def _received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def test_sns_publishes_alert_with_attributes(aws: str) -> None:
    topic, sqs, queue_url = _topic_with_queue()
    alert = make_alert(user_agents=["<!channel>", "naïve\nagent"])
    sink = parse_sink_spec(f"sns={topic}")
    sink.send(alert)
    [envelope] = _received(sqs, queue_url)
    assert json.loads(envelope["Message"]) == alert
    assert envelope["Subject"] == "[HIGH] Bulk download with an S3 sync client"
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {
        "severity": "high",
        "detection": "bulk_s3_client",
        "alert_id": alert["alert_id"],
    }


def test_sns_oversized_alert_is_trimmed(aws: str) -> None:
    topic, sqs, queue_url = _topic_with_queue()
    alert = make_alert(
        user_agents=["ua-" + "x" * 30_000 for _ in range(10)],
        reasons=[{"text": "r" * 50_000}] * 5,
        hunt="h" * 5000,
    )
    assert len(json.dumps(alert)) > MESSAGE_MAX
    message = sns_message(alert)
    assert len(message.encode()) < MESSAGE_MAX
    trimmed = json.loads(message)
    assert trimmed["truncated"] is True
    assert {k: trimmed[k] for k in ("alert_id", "detection", "severity")} == {
        k: alert[k] for k in ("alert_id", "detection", "severity")
    }
    assert trimmed["user_agents"][0].startswith("ua-xxx") and trimmed["evidence_total"] == 120
    assert json.loads(sns_message(make_alert())) == make_alert()  # small ones untouched
    SnsSink(topic).send(alert)  # SNS accepts it
    [envelope] = _received(sqs, queue_url)
    assert json.loads(envelope["Message"])["truncated"] is True


@pytest.mark.parametrize(
    "title",
    [
        "Ünïcödé " * 30,
        "line one\nline two\r\t" + "x" * 200,
        "",
        "日本語のみ",
    ],
)
def test_sns_subject_is_valid(title: str) -> None:
    subject = sns_subject(make_alert(title=title, severity="critical"))
    assert 0 < len(subject) <= 100
    assert re.fullmatch(r"[\x20-\x7e]+", subject) and subject.startswith("[CRITICAL]")


def test_sns_long_title_is_accepted(aws: str) -> None:
    topic, sqs, queue_url = _topic_with_queue()
    SnsSink(topic).send(make_alert(title="Very long title éé " * 20))
    [envelope] = _received(sqs, queue_url)
    assert len(envelope["Subject"]) <= 100


def test_sns_fifo_topic_drops_a_resent_alert(aws: str) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sink = parse_sink_spec(f"sns={topic}")
    sink.send(make_alert())
    sink.send(make_alert())  # a re-send after a crash: deduplicated by alert_id
    assert len(_received(sqs, queue_url)) == 1


def test_sns_missing_topic_is_not_retryable(aws: str) -> None:
    sink = SnsSink("arn:aws:sns:us-east-1:123456789012:no-such-topic")
    with pytest.raises(DeliveryError) as err:
        sink.send(make_alert())
    assert err.value.retryable is False and "NotFound" in err.value.reason


# --- JSON lines ---------------------------------------------------------------------------
def test_jsonl_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = parse_sink_spec(f"jsonl={path}")
    alerts = [make_alert(1), make_alert(2, user_agents=["bad \udcff surrogate"])]
    for a in alerts:
        sink.send(a)
    sink.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == alerts[0]
    assert json.loads(lines[1])["alert_id"] == alerts[1]["alert_id"]
    assert lines[0] == Alert(**alerts[0]).to_json()  # the same line as --alerts
    parse_sink_spec("jsonl=-").send(make_alert(3))
    assert json.loads(capsys.readouterr().out)["alert_id"] == make_alert(3)["alert_id"]


# --- the outbox ---------------------------------------------------------------------------
def test_failing_sink_blocks_nothing_and_delivers_on_recovery(
    slack_receiver: SlackReceiver, tmp_path: Path
) -> None:
    slack_receiver.default = 500
    slack, jsonl = SlackSink(slack_receiver.url), JsonlSink(str(tmp_path / "a.jsonl"))
    alerts = [make_alert(i) for i in range(3)]
    with Outbox(
        tmp_path / "_delivery", [(slack, Route()), (jsonl, Route())], backoff=0.05, backoff_cap=0.2
    ) as outbox:
        outbox.start([])
        t0 = time.monotonic()
        outbox.submit(alerts)
        assert time.monotonic() - t0 < 0.1
        wait_for(lambda: len(jsonl_ids(tmp_path / "a.jsonl")) == 3)  # the other sink flows
        wait_for(lambda: len(slack_receiver.requests) >= 3)
        assert outbox.pending()[slack.target_id] == 3
        assert not outbox.drain(0.2)
        assert outbox.status()[slack.target_id]["last_error"].startswith("HTTP 500")
        slack_receiver.default = 200
        assert outbox.drain(5)
        assert outbox.pending() == {slack.target_id: 0, jsonl.target_id: 0}
    delivered = [m["blocks"][-1]["elements"][0]["text"] for m in slack_receiver.delivered()]
    assert delivered == [f"alert `{a['alert_id']}`" for a in alerts]


def test_restart_sends_only_what_was_not_delivered(
    slack_receiver: SlackReceiver, tmp_path: Path
) -> None:
    root, path = tmp_path / "_delivery", tmp_path / "a.jsonl"
    a = [make_alert(i) for i in range(5)]
    with Outbox(root, [(JsonlSink(str(path)), Route())]) as outbox:
        outbox.start([])
        outbox.submit(a[:2])
        assert outbox.drain(5)
    slack_receiver.default = 500
    slack = SlackSink(slack_receiver.url)
    with Outbox(root, [(JsonlSink(str(path)), Route()), (slack, Route())], backoff=0.05) as outbox:
        outbox.start(a[:3])  # a[2] was committed but never handed over
        assert outbox.pending()[slack.target_id] == 0  # slack is new: history skipped
        outbox.submit([a[3]])
        wait_for(lambda: jsonl_ids(path) == [x["alert_id"] for x in a[:4]])
        assert outbox.pending()[slack.target_id] == 1  # slack is down
    slack_receiver.default = 200  # crash-like stop with a[3] still queued
    with Outbox(root, [(JsonlSink(str(path)), Route()), (slack, Route())], backoff=0.05) as outbox:
        outbox.start(a[:5])
        assert outbox.drain(5)
        assert outbox.delivered == {JsonlSink(str(path)).target_id: 1, slack.target_id: 2}
    assert jsonl_ids(path) == [x["alert_id"] for x in a]
    assert len(slack_receiver.delivered()) == 2
    skipped = [json.loads(line) for line in (root / f"{slack.target_id}.jsonl").open()]
    assert [r["status"] for r in skipped] == ["skipped"] * 3 + ["delivered"] * 2


def test_new_sink_skips_history(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with Outbox(tmp_path / "_delivery", [(JsonlSink(str(path)), Route())]) as outbox:
        outbox.start([make_alert(1), make_alert(2)])
        outbox.submit([make_alert(2), make_alert(3)])  # re-submitting is harmless
        assert outbox.drain(5)
    assert jsonl_ids(path) == [make_alert(3)["alert_id"]]


def test_routes_filter_and_widening_a_route_replays_nothing(tmp_path: Path) -> None:
    root = tmp_path / "_delivery"
    paths = {n: tmp_path / f"{n}.jsonl" for n in ("high", "canary", "rest")}
    routes = {
        "high": Route("high"),
        "canary": Route("low", include=("canary",)),
        "rest": Route("medium", exclude=("canary",)),
    }
    alerts = [
        make_alert(1, "low", "canary"),
        make_alert(2, "critical", "canary"),
        make_alert(3, "medium", "x"),
        make_alert(4, "high", "x"),
    ]
    with Outbox(root, [(JsonlSink(str(paths[n])), routes[n]) for n in paths]) as outbox:
        outbox.start([])
        outbox.submit(alerts)
        assert outbox.drain(5)
    ids = {n: [int(i, 16) for i in jsonl_ids(p)] for n, p in paths.items()}
    assert ids == {"high": [2, 4], "canary": [1, 2], "rest": [3, 4]}
    with Outbox(root, [(JsonlSink(str(paths["high"])), Route("low"))]) as outbox:
        outbox.start(alerts)
        outbox.submit([make_alert(5, "low")])
        assert outbox.drain(5)
    assert [int(i, 16) for i in jsonl_ids(paths["high"])] == [2, 4, 5]


def test_undeliverable_alert_is_dead_lettered_and_the_rest_flow(
    slack_receiver: SlackReceiver, tmp_path: Path
) -> None:
    slack_receiver.script = [(400, {})]
    sink = SlackSink(slack_receiver.url)
    root = tmp_path / "_delivery"
    with Outbox(root, [(sink, Route())], backoff=0.05) as outbox:
        outbox.start([])
        outbox.submit([make_alert(1), make_alert(2)])
        assert outbox.drain(5)
        assert outbox.dead_lettered == {sink.target_id: 1}
        assert outbox.delivered == {sink.target_id: 1}
    [dead] = [json.loads(line) for line in (root / f"{sink.target_id}.dead.jsonl").open()]
    assert dead["alert_id"] == make_alert(1)["alert_id"]
    assert dead["reason"] == "HTTP 400: error_from_receiver" and dead["alert"] == make_alert(1)
    with Outbox(root, [(sink, Route())]) as outbox:  # not retried on restart
        outbox.start([make_alert(1), make_alert(2)])
        assert outbox.pending() == {sink.target_id: 0}
    assert len(slack_receiver.requests) == 2


class _Exploding(Sink):
    name = "exploding"

    def __init__(self, value: str = "x") -> None:
        self.target_id, self.label, self.calls = "exploding-x", "exploding:x", 0

    def send(self, alert: dict[str, Any]) -> None:
        self.calls += 1
        raise KeyError("bug")


def test_sink_bug_dead_letters_without_killing_the_lane(tmp_path: Path) -> None:
    sink = _Exploding()
    with Outbox(tmp_path / "_delivery", [(sink, Route())]) as outbox:
        outbox.start([])
        outbox.submit([make_alert(1), make_alert(2)])
        assert outbox.drain(5)
        assert outbox.dead_lettered == {"exploding-x": 2} and sink.calls == 2


def test_torn_journal_line_is_survived(tmp_path: Path) -> None:
    root, path = tmp_path / "_delivery", tmp_path / "a.jsonl"
    sink = JsonlSink(str(path))
    with Outbox(root, [(sink, Route())]) as outbox:
        outbox.start([])
        outbox.submit([make_alert(1)])
        assert outbox.drain(5)
    journal = root / f"{sink.target_id}.jsonl"
    journal.write_text(journal.read_text() + '{"alert_id": "0000')  # crash mid-write
    with Outbox(root, [(JsonlSink(str(path)), Route())]) as outbox:
        outbox.start([make_alert(1), make_alert(2)])
        assert outbox.drain(5)
    assert jsonl_ids(path) == [make_alert(1)["alert_id"], make_alert(2)["alert_id"]]
    assert all(json.loads(line) for line in journal.read_text().splitlines()[:1])
    assert json.loads(journal.read_text().splitlines()[-1])["status"] == "delivered"


def test_concurrent_submits_deliver_each_alert_once(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "a.jsonl"
    alerts = [make_alert(i) for i in range(400)]
    chunks = [alerts[j : j + 10] for j in range(0, 400, 10)]

    def submit_all(outbox: Outbox, reverse: bool) -> None:
        for chunk in reversed(chunks) if reverse else chunks:
            outbox.submit(chunk)

    with Outbox(tmp_path / "_delivery", [(JsonlSink(str(path)), Route())]) as outbox:
        outbox.start([])
        threads = [threading.Thread(target=submit_all, args=(outbox, n % 2 == 1)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outbox.drain(10)
    ids = jsonl_ids(path)
    assert len(ids) == 400 and set(ids) == {a["alert_id"] for a in alerts}


def test_outbox_contract_errors(tmp_path: Path) -> None:
    a, b = JsonlSink(str(tmp_path / "a.jsonl")), JsonlSink(str(tmp_path / "a.jsonl"))
    with pytest.raises(UsageError, match="given twice"):
        Outbox(tmp_path, [(a, Route()), (b, Route("high"))])
    outbox = Outbox(tmp_path, [(a, Route())])
    with pytest.raises(RuntimeError):
        outbox.submit([make_alert()])
    outbox.start([])
    with pytest.raises(ValueError, match="alert_id"):
        outbox.submit([{"severity": "high"}])
    outbox.close()
