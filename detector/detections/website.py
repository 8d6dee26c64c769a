"""Website content tampering (C30): script or page objects written into a configured website
bucket by anyone but the deploy (CI) roles: the Magecart/skimmer injection path."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from detector.config import Settings
from detector.detections._examples import ADMIN_ARN, CI, access_line, data_event
from detector.detections.base import EventRule, Example, register

ACTIVE_CONTENT = r"(?i)\.(m?js|html?)$"
_WRITES = ("PutObject", "CopyObject", "CompleteMultipartUpload")


@register
class WebsiteContentTampering(EventRule):
    id = "website_content_tampering"
    title = "Script or page written to a website bucket outside the deploy pipeline"
    severity = "high"
    capabilities = ("C30",)
    attack = ("T1491.002", "T1195", "T1059.007")
    dedup_by = ("principal", "bucket")
    learns = True
    habit = ("finding", "bucket")
    """Without a configured deploy role, the principal that publishes to the bucket on
    schedule is learned: its deploys on later days are its habit."""
    dedup_window = timedelta(hours=6)
    runbook = (
        "Diff the object against the last deployed build (restore the previous version "
        "if it differs), look for injected script tags or third-party URLs, and find how "
        "the principal got write access."
    )
    reason_feature = "website_write"
    reason_template = (
        "{event_name} of {bucket}[/{key}] by {principal} (not a deploy role) from "
        "{source_ip} with {user_agent}"
    )

    def match(self, settings: Settings) -> pl.Expr:
        ci = list(settings.ci_roles)
        deploy = (pl.col("principal").is_in(ci) | pl.col("principal_arn").is_in(ci)).fill_null(
            False
        )
        website = pl.col("bucket").is_in(list(settings.website_buckets)).fill_null(False)
        active = pl.col("key").str.contains(ACTIVE_CONTENT).fill_null(False)
        return (
            pl.col("event_name").is_in(list(_WRITES))
            & ~pl.col("is_error")
            & website
            & active
            & ~deploy
        )

    examples = (
        Example(
            "checkout script replaced by the app role",
            (
                data_event(
                    "PutObject",
                    "acme-www-static",
                    "assets/js/checkout.min.js",
                    bytes_in=48_211,
                    params={"Content-Type": "application/javascript"},
                ),
            ),
        ),
        Example(
            "index page overwritten by a human, access log",
            access_lines=(
                access_line(
                    "REST.PUT.OBJECT",
                    "acme-www-static",
                    "index.html",
                    requester=ADMIN_ARN,
                    ip="203.0.113.10",
                    bytes_sent=0,
                    object_size=5120,
                    user_agent="aws-cli/2.15.30 Python/3.11.8",
                ),
            ),
        ),
        Example(
            "deploy by the CI role",
            (data_event("PutObject", "acme-www-static", "assets/js/checkout.min.js", identity=CI),),
            fires=False,
        ),
        Example(
            "image upload",
            (data_event("PutObject", "acme-www-static", "img/banner.png"),),
            fires=False,
        ),
        Example(
            "script into a non-website bucket",
            (data_event("PutObject", "acme-artifacts", "build/app.js"),),
            fires=False,
        ),
        Example(
            "refused write",
            (data_event("PutObject", "acme-www-static", "index.html", errorCode="AccessDenied"),),
            fires=False,
        ),
    )
