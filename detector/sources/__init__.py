"""Where log objects come from: local files and folders, and S3 prefixes.

A source lists ``ObjectRef`` values (cheap, no content) and fetches them as ``Blob`` values;
the pipeline decides what to fetch (date pruning, the lake's manifest) in between.
"""

from __future__ import annotations

from detector.sources.base import Source, open_source

__all__ = ["Source", "open_source"]
