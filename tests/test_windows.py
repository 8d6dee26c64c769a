"""Window features: per principal, merged across batches, closed by the slowest source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from detector.config import Settings
from detector.features.enrich import enrich
from detector.features.windows import WindowAggregator, finalize, merge, partial_windows
from detector.schema import conform

T0 = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::111122223333:role/app"


def events(rows: list[dict]) -> pl.DataFrame:
    cols = {k: [r.get(k) for r in rows] for k in {k for r in rows for k in r}}
    times = cols.pop("event_time")
    t = pa.table(
        {k: pa.array(v, pa.string() if k != "bytes_out" else pa.int64()) for k, v in cols.items()}
    )
    t = t.append_column("event_time", pa.array(times, pa.timestamp("us", tz="UTC")))
    return enrich(conform(t), Settings(our_accounts=frozenset({"111122223333"})))


def get(t: datetime, key: str, **kw: object) -> dict:
    return {
        "source": "cloudtrail",
        "event_time": t,
        "event_name": "GetObject",
        "session_issuer_arn": ROLE,
        "principal_arn": ROLE,
        "principal_type": "AssumedRole",
        "bucket": "b1",
        "key": key,
        "source_ip": "10.0.0.1",
        "bytes_out": 100,
        "user_agent": "aws-sdk-java/2.25",
        "event_id": key,
        **kw,
    }


def test_partial_windows_count_and_distinct() -> None:
    df = events(
        [
            get(T0, "a/1"),
            get(T0 + timedelta(seconds=30), "a/2"),
            get(
                T0 + timedelta(seconds=40),
                "b/3",
                source_ip="203.0.113.9",
                event_name="DeleteObject",
            ),
            get(T0 + timedelta(minutes=6), "a/1"),
        ]
    )
    w = finalize(partial_windows(df, 5)).to_dicts()
    assert [x["window_start"] for x in w] == [T0, T0 + timedelta(minutes=5)]
    first = w[0]
    assert (first["n_events"], first["n_read"], first["n_delete"]) == (3, 2, 1)
    assert (first["n_keys"], first["n_prefixes"], first["bytes_out"]) == (3, 2, 300)
    assert first["n_public_ip"] == 1 and first["n_ip_prefixes"] == 2
    assert first["hour"] == 10 and first["weekday"] == 4


def test_partials_of_one_window_merge_across_batches() -> None:
    a = partial_windows(events([get(T0, "k1"), get(T0, "k2")]), 5)
    b = partial_windows(
        events([get(T0 + timedelta(minutes=1), "k2"), get(T0 + timedelta(minutes=2), "k3")]), 5
    )
    (w,) = finalize(merge(pl.concat([a, b]))).to_dicts()
    assert (w["n_events"], w["n_keys"]) == (4, 3)


def test_windows_close_on_the_slowest_source_with_lateness() -> None:
    agg = WindowAggregator(5, timedelta(minutes=15))
    agg.add(events([get(T0, "k")]))
    agg.add(events([get(T0 + timedelta(hours=1), "k")]))
    assert agg.close().height == 1  # only CloudTrail so far: the 10:00 window is done
    agg.add(events([get(T0 + timedelta(hours=2), "k", source="s3_access")]))
    agg.add(events([get(T0 + timedelta(hours=1, minutes=2), "late")]))
    assert agg.close().height == 0, "access logs are behind: nothing else may close yet"
    agg.add(events([get(T0 + timedelta(hours=2), "k")]))  # CloudTrail catches up to 12:00
    closed = agg.close().to_dicts()
    assert [(c["window_start"], c["n_events"]) for c in closed] == [(T0 + timedelta(hours=1), 2)], (
        "the late event joined its window before it closed"
    )
    assert agg.close(flush=True).height == 1  # 12:00: one principal, both sources


def test_events_later_than_their_judged_window_are_judged_as_their_own_window() -> None:
    """Late data is never dropped: events delivered after their window was judged (access
    logs hours late) are judged as a window of their own. Leaving them out cost one of the
    labelled world's 27 attacks (tests/test_evaluation.py)."""
    agg = WindowAggregator(5, timedelta(minutes=15))
    agg.add(events([get(T0, "k"), get(T0 + timedelta(hours=1), "k")]))
    assert [c["window_start"] for c in agg.close().to_dicts()] == [T0]
    agg.add(events([get(T0 + timedelta(minutes=1), "late"), get(T0, "late2")]))
    (late,) = agg.close().to_dicts()
    assert (late["window_start"], late["n_events"], late["n_keys"]) == (T0, 2, 2)


def test_events_without_principal_are_counted() -> None:
    w = finalize(
        partial_windows(events([get(T0, "k", session_issuer_arn=None, principal_arn=None)]), 5)
    ).to_dicts()
    assert [(x["principal"], x["n_events"]) for x in w] == [("(unknown)", 1)]


def test_people_on_shared_roles_are_kept_apart() -> None:
    """SSO roles and federated roles whose sessions are e-mail addresses are shared by people:
    each person gets a baseline; a service role's sessions do not split it."""
    from detector.features.enrich import principal_key

    issuer = "arn:aws:iam::111122223333:role/{}"
    df = pl.DataFrame(
        {
            "principal_type": ["AssumedRole"] * 3,
            "account_id": ["111122223333"] * 3,
            "session_issuer_arn": [
                issuer.format("Okta-FinanceAnalyst"),
                issuer.format("AWSReservedSSO_Admin_0a1b"),
                issuer.format("orders-api"),
            ],
            "session_name": ["ana@corp.example", "bob@corp.example", "i-0abc123"],
            "principal_arn": [None, None, None],
            "invoked_by": [None, None, None],
            "principal_id": [None, None, None],
        }
    )
    assert df.select(principal_key()).to_series().to_list() == [
        issuer.format("Okta-FinanceAnalyst/ana@corp.example"),
        issuer.format("AWSReservedSSO_Admin_0a1b/bob@corp.example"),
        issuer.format("orders-api"),
    ]
