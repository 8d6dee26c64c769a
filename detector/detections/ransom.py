"""Ransom notes (C23, rule part): a small text object named like a note. Medium on its own;
the exfiltrate-then-destroy correlation (C24) raises it when deletes or re-encryption came
first."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import CI, access_line, data_event
from detector.detections.base import EventRule, Example, register

MAX_NOTE_BYTES = 64 * 1024
_NOTE_EXT = r"\.(txt|html?|md|rtf|hta)$"
_STRONG = r"(ransom|decrypt|bitcoin|btc|monero|xmr|unlock)"
"""Words that make a note-like name suspicious on their own."""
_CUE = r"(read[_ .-]?me|how[_ .-]?to|!!!|your|instructions?|attention)"
_TOPIC = r"(restore|recover|deleted|encrypted|files|pay(ment)?)"
NOTE_NAME = (
    rf"(?i)({_STRONG}|{_CUE}[^/]*{_TOPIC}|{_TOPIC}[^/]*{_CUE}|(restore|recover)"
    rf"[^/]*(files|data|deleted|encrypted))[^/]*{_NOTE_EXT}"
)
"""A last key segment that reads like a ransom note: a strong word, or a cue ("readme",
"how to", "your", "!!!") together with a topic (restore, recover, deleted, files…). A plain
README.md or restore-procedure.md does not match."""


@register
class RansomNote(EventRule):
    id = "ransom_note_written"
    title = "Small text object with a ransom-note name written"
    severity = "medium"
    capabilities = ("C23",)
    attack = ("T1486", "T1485")
    dedup_by = ("principal", "bucket")
    dedup_window = timedelta(hours=6)
    runbook = (
        "Read the note (do not follow links), then look for deletes, SSE-C copies or "
        "version purges by the same principal before it; preserve logs and restore "
        "from versions or backups."
    )
    reason_feature = "ransom_note"
    reason_template = (
        "{event_name} of note-like object {bucket}[/{key}] ({bytes_in} bytes) by "
        "{principal}[ from {source_ip}]"
    )

    def match(self, settings: Settings) -> pl.Expr:
        last = pl.col("key").str.extract(r"([^/]+)$", 1)
        small = pl.col("bytes_in").is_null() | (pl.col("bytes_in") < MAX_NOTE_BYTES)
        return (
            pl.col("event_name").is_in(["PutObject", "CopyObject"])
            & ~pl.col("is_error")
            & small
            & last.str.contains(NOTE_NAME).fill_null(False)
        )

    examples = (
        Example(
            "note dropped after a wipe",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "README-RECOVER-YOUR-FILES.txt",
                    bytes_in=1432,
                    params={"Content-Type": "text/plain"},
                    userAgent="Boto3/1.34.0",
                ),
            ),
        ),
        Example(
            "decrypt instructions in every prefix, access log",
            access_lines=(
                access_line(
                    "REST.PUT.OBJECT",
                    "acme-data",
                    "finance/DECRYPT_INSTRUCTIONS.html",
                    bytes_sent=0,
                    object_size=2210,
                ),
                access_line(
                    "REST.PUT.OBJECT",
                    "acme-data",
                    "hr/DECRYPT_INSTRUCTIONS.html",
                    bytes_sent=0,
                    object_size=2210,
                    minute=1,
                ),
            ),
        ),
        Example(
            "how to restore data note",
            (data_event("PutObject", "acme-backups", "how_to_restore_data.txt", bytes_in=900),),
        ),
        Example(
            "README.md in a code bucket",
            (
                data_event(
                    "PutObject", "acme-artifacts", "repo/README.md", bytes_in=3100, identity=CI
                ),
            ),
            fires=False,
        ),
        Example(
            "restore procedure document",
            (data_event("PutObject", "acme-docs", "runbooks/restore-procedure.md", bytes_in=8000),),
            fires=False,
        ),
        Example(
            "large export with a note-like name",
            (
                data_event(
                    "PutObject", "acme-data", "exports/recover_files.txt", bytes_in=5_000_000
                ),
            ),
            fires=False,
        ),
        Example(
            "upload refused",
            (
                data_event(
                    "PutObject",
                    "acme-data",
                    "README-RECOVER-YOUR-FILES.txt",
                    bytes_in=1432,
                    errorCode="AccessDenied",
                ),
            ),
            fires=False,
        ),
    )
