"""Streaming anomaly detector for Amazon S3 security logs."""

__version__ = "0.1.0"
