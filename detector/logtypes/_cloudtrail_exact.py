"""The exact tier for CloudTrail records: typed msgspec decoding and Python columnarising.

It is slower than the native tier (every field becomes a Python object before Arrow) but
exact: records are decoded one by one when needed, so a record of the wrong shape is rejected
with msgspec's message naming the field, and the rest of its file is kept. The tiers module
uses it only for input the native tier could not read.
"""

from __future__ import annotations

import codecs
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import polars as pl
import pyarrow as pa

from detector.logtypes import _cloudtrail_fields as fields
from detector.logtypes.base import Reject
from detector.schema import SOURCE_CLOUDTRAIL, conform

_NULL = msgspec.Raw(b"null")

Text = str | int | float | bool | None
"""A field meant to be text. A number or boolean there is kept as its JSON text (as the
native tier does); an object or array there makes the record's shape wrong."""


def _attribute(name: str) -> str:
    """A Python attribute for a JSON member name (``@timestamp`` → ``timestamp``)."""
    return re.sub(r"\W+", "_", name).strip("_")


def _struct(name: str, members: dict[str, tuple[Any, Any]]) -> type[msgspec.Struct]:
    """A msgspec struct whose attributes read the given JSON members (type, default)."""
    attrs = {_attribute(m): m for m in members}
    assert len(attrs) == len(members), f"two members of {name} share an attribute"
    return msgspec.defstruct(
        name,
        [(attr, *members[m]) for attr, m in attrs.items()],
        rename=attrs,
        gc=False,
    )


_EMPTY: dict[str, msgspec.Struct] = {}
"""Per nested struct's path, an instance with every member absent (stands in for a
missing ``userIdentity``, say, so its members read as null)."""


def _record_type(name: str, tree: fields.Tree, path: str = "") -> type[msgspec.Struct]:
    """The struct for a (sub-)record, generated from the field map's tree."""
    members: dict[str, tuple[Any, Any]] = {}
    for member, sub in tree.items():
        if member in fields.SIDES:
            members[member] = (msgspec.Raw, _NULL)  # decoded later, apart (_screen_sides)
        elif member in fields.FLAGS:
            members[member] = (bool | None, None)
        elif member == fields.RESOURCES:
            resource = _struct("Resource", dict.fromkeys(fields.RESOURCE_FIELDS, (Text, None)))
            members[member] = (list[resource] | None, None)  # type: ignore[valid-type]
        elif sub is None:
            members[member] = (Text, None)
        else:
            inner = _record_type(member[:1].upper() + member[1:], sub, path + member + ".")
            _EMPTY[path + member] = inner()
            members[member] = (inner | None, None)
    return _struct(name, members)


Record = _record_type("Record", fields.record_tree())
"""The parts of a CloudTrail record we type; everything else is skipped or kept raw."""

_SIDE_TYPES = {
    side: _struct(
        side[:1].upper() + side[1:], dict.fromkeys(fields.side_members(side), (Any, None))
    )
    for side in fields.SIDES
}
"""A side's members, typed Any: other services reuse the names with other types."""
_SIDE_DECODERS = {
    side: msgspec.json.Decoder(list[typ | str | list | float | bool | None])  # type: ignore[valid-type]
    for side, typ in _SIDE_TYPES.items()
}

RECORDS_ARRAY = msgspec.json.Decoder(list[Record], strict=False)  # type: ignore[valid-type]
RECORD = msgspec.json.Decoder(Record, strict=False)
RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


RawOf = Callable[[int], bytes]
"""The raw text of the k-th record of one ``add`` (for a reject found later)."""


@dataclass
class RecordBatch:
    """Decoded records of many files, with where each came from."""

    records: list[Record] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    _raw_starts: list[int] = field(default_factory=list)
    _raw_ofs: list[RawOf | None] = field(default_factory=list)

    def add(
        self,
        records: Sequence[Record],
        origin: str,
        indices: Sequence[int],
        raw_of: RawOf | None = None,
    ) -> None:
        self._raw_starts.append(len(self.records))
        self._raw_ofs.append(raw_of)
        self.records.extend(records)
        self.origins.extend(repeat(origin, len(records)))
        self.indices.extend(indices)

    def raw(self, i: int) -> bytes:
        """Record ``i``'s raw text as read (its typed fields re-encoded if not known)."""
        seg = bisect_right(self._raw_starts, i) - 1
        raw_of = self._raw_ofs[seg] if seg >= 0 else None
        if raw_of is None:
            return msgspec.json.encode(self.records[i])
        return raw_of(i - self._raw_starts[seg])

    def reject(
        self,
        origin: str,
        reason: str,
        detail: str,
        raw: bytes,
        index: int | None = None,
        records: int | None = 1,
    ) -> None:
        self.rejects.append(Reject(origin, reason, detail, raw, index, records, SOURCE_CLOUDTRAIL))


BAD_BYTES = (
    "additionalEventData.bytesTransferredIn/Out is not a number an int64 can hold; "
    "kept the event with the value null"
)
BAD_TIME = (
    "no usable event time: eventTime (or @timestamp) is missing, in no known form, "
    "or before 2006 or in the future"
)


NOT_A_RECORD = "JSON object has none of eventVersion, eventTime, eventName, eventSource, eventID"


def to_table(batch: RecordBatch) -> pa.Table:
    """Columnarise decoded records into the canonical schema (through the shared step)."""
    if not batch.records:
        return conform(pa.table({}).append_column("source", pa.array([], pa.string())))
    sides = _screen_sides(batch)
    keep = [i for i, ok in enumerate(sides.pop("ok")) if ok]
    recs = [batch.records[i] for i in keep]
    columns = _path_columns(
        recs, {side: [values[i] for i in keep] for side, values in sides.items()}
    )
    columns["origin_object"] = pa.array([batch.origins[i] for i in keep], pa.string())
    columns["origin_index"] = pa.array([batch.indices[i] for i in keep], pa.int64())
    frame = pl.from_arrow(pa.table(columns))
    assert isinstance(frame, pl.DataFrame)
    return screen(batch, fields.canonicalise(frame), lambda row: batch.raw(keep[row]))


def screen(batch: RecordBatch, result: fields.Canonical, raw_of_row: RawOf) -> pa.Table:
    """Reject rows that are not records or have no usable time; flag bad byte counts (the
    event is kept, the count null); keep the rest. The same for both tiers."""
    table = result.events
    flagged = result.flagged()
    if len(flagged):
        origins = table.column("origin_object").take(pa.array(flagged)).to_pylist()
        positions = table.column("origin_index").take(pa.array(flagged)).to_pylist()
        for row, origin, index in zip(flagged.tolist(), origins, positions, strict=True):
            raw = raw_of_row(row)
            if result.not_record[row]:
                batch.reject(origin, "not_cloudtrail_record", NOT_A_RECORD, raw, index)
            elif result.bad_time[row]:
                batch.reject(origin, "bad_event_time", BAD_TIME, raw, index)
            else:
                batch.reject(origin, "bad_field_type", BAD_BYTES, raw, index, records=0)
    dropped = result.dropped()
    return table.filter(pa.array(~dropped)) if dropped.any() else table


def _path_columns(recs: Sequence[Any], sides: dict[str, list[Any]]) -> dict[str, pa.Array]:
    """Every declared path as a column named by it (what the native tier's query gives)."""
    columns: dict[str, pa.Array] = {}
    parents: dict[str, Sequence[Any]] = {"": recs}
    for path, sub in fields.walk(fields.record_tree()):
        parent, _, member = path.rpartition(".")
        values = list(map(attrgetter(_attribute(member)), parents[parent]))
        if sub is not None:  # a struct: its members are read from it, absent as empty
            empty = _EMPTY[path]
            parents[path] = [v if v is not None else empty for v in values]
        elif member in fields.SIDES:
            columns[path] = _raw_json(values)
        elif member in fields.FLAGS:
            columns[path] = pa.array(values, pa.bool_())
        elif member == fields.RESOURCES:
            columns[path] = _resources(values)
        else:
            columns[path] = _strings(values)
    for side, objs in sides.items():
        for member in fields.side_members(side):
            columns[f"{side}.{member}"] = _strings(list(map(attrgetter(_attribute(member)), objs)))
    return columns


def _resources(lists: list[Any]) -> pa.Array:
    """``resources`` as the native tier gives it: a list of text structs per record."""
    lists = [v or () for v in lists]
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, lists), dtype=np.int32, count=len(lists)), out=offsets[1:])
    flat = list(chain.from_iterable(lists))
    members = [_strings(list(map(attrgetter(_attribute(f)), flat))) for f in fields.RESOURCE_FIELDS]
    items = pa.StructArray.from_arrays(members, names=list(fields.RESOURCE_FIELDS))
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=fields.resource_type())


def _screen_sides(batch: RecordBatch) -> dict[str, list[Any]]:
    """requestParameters, responseElements and additionalEventData decoded, per record,
    and under ``ok`` whether the record passed.

    They are kept raw (``msgspec.Raw``) while records decode, so nothing has checked them
    yet: a record whose raw sub-object is not UTF-8, or holds what msgspec cannot decode (a
    number out of range), is rejected here, alone. A side that is not an object reads as
    one with no members.
    """
    out: dict[str, list[Any]] = {}
    bad: dict[int, tuple[str, str]] = {}
    for name, decoder in _SIDE_DECODERS.items():
        typ = _SIDE_TYPES[name]
        empty = typ()
        raws = [getattr(r, name) for r in batch.records]
        try:
            values = decoder.decode(b"[" + b",".join(raws) + b"]")
            _utf8(b"".join(raws))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            values = []
            for i, raw in enumerate(raws):
                try:
                    _utf8(raw)
                    values.append(decoder.decode(b"[" + raw + b"]")[0])
                except UnicodeDecodeError:
                    bad.setdefault(i, ("invalid_utf8", f"{name} holds bytes that are not UTF-8"))
                    values.append(None)
                except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                    bad.setdefault(
                        i,
                        (
                            "invalid_utf8" if not _is_text(raw) else "bad_record_shape",
                            f"{name}: {exc}",
                        ),
                    )
                    values.append(None)
        out[name] = [v if type(v) is typ else empty for v in values]
    for i, (reason, detail) in sorted(bad.items()):
        batch.reject(batch.origins[i], reason, detail, batch.raw(i), batch.indices[i])
    out["ok"] = [i not in bad for i in range(len(batch.records))]
    return out


def _utf8(raw: bytes) -> None:
    """Raise UnicodeDecodeError unless ``raw`` is UTF-8 (JSON strings may not be anything
    else, but ``msgspec.Raw`` keeps bytes unchecked)."""
    codecs.utf_8_decode(raw, "strict", True)


def _is_text(raw: bytes) -> bool:
    try:
        _utf8(raw)
    except UnicodeDecodeError:
        return False
    return True


def _strings(values: list[Any]) -> pa.Array:
    """Text column; scalars that are not text become their JSON text, containers null."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([_as_text(v) for v in values], pa.string())


def _as_text(value: Any) -> str | None:
    """A scalar as its JSON text; an object or array (only a free-form side's member can be
    one) as compact JSON, as DuckDB's ``json_transform`` gives it in the native tier."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return _ENCODE(value).decode()


def _raw_json(raws: list[msgspec.Raw]) -> pa.Array:
    """JSON sub-objects as compact text, written as the native tier's DuckDB writes them
    (no whitespace, escapes resolved, numbers in shortest form); JSON null is SQL null."""
    return pa.array([None if bytes(raw) == b"null" else _compact(raw) for raw in raws], pa.string())


def _compact(raw: bytes) -> str:
    try:
        return _ENCODE(_DECODE_ANY(raw)).decode()
    except (msgspec.DecodeError, RecursionError):  # too deep to re-encode: strip spaces only
        try:
            return msgspec.json.format(raw, indent=-1).decode()
        except (msgspec.DecodeError, RecursionError):
            return bytes(raw).decode("utf-8", "replace")


_DECODE_ANY = msgspec.json.Decoder().decode
_ENCODE = msgspec.json.Encoder().encode
