"""The audit log's only writer and its verifier (S28).

    audit.record(actor=..., action="decision.recorded", target=decision, data={...})

How the chain is built
    ``record`` inserts one event and ``record_many`` a batch (one statement per ~2,000 rows). Events go in
    *unsealed* (``seq`` NULL, ``hash`` ''), so writers never wait for one another on the chain: ingestion
    scales like any other insert. After the writer's transaction commits, ``seal`` takes a row lock on the
    single ``AuditChainHead`` row and chains every unsealed event in id order: each gets its position
    ``seq`` (1, 2, 3, ... without gaps), the previous event's hash and its own hash, the SHA-256 of
    ``canonical()`` bytes that cover its id, seq, previous hash, time, actor, action, target and data.
    The head then records the last position and hash, in the same transaction.

    Ids are taken at INSERT and transactions commit in any order, so seq order is not always id order: an
    event from a long transaction is chained when it commits, after events with higher ids. That is
    correct: the chain's order is the order in which events became durable and visible, and ``verify``
    walks seq order. Because each batch is chosen under the lock, from committed rows only, two sealers
    can never give out the same position.

    The seal that follows a commit does not wait for the lock (``wait=False``): if another sealer holds
    it, that sealer (or the next commit's seal, or ``core.tasks.seal_audit`` every minute) will chain the
    new events. So a request never queues behind the chain, and an event stays unsealed for at most about
    a minute even when a seal is lost (a crash between commit and seal). A seal first looks, without a
    lock, whether anything is pending, so the many seals that find nothing cost one indexed read.

Costs (PostgreSQL)
    Each event is written twice: inserted, then updated once by the seal, which leaves a dead row
    version; migration 0002 asks autovacuum to clean the table often. A seal chains 5,000 events per
    transaction with one ``UPDATE ... FROM jsonb_to_recordset(%s)`` (the batch as one JSON parameter, not
    Django's CASE WHEN bulk_update, whose cost grows with every row: 20x slower here) and commits without
    waiting for its WAL flush: a seal lost in a crash is simply redone. The one visible effect: a head
    printed in the instant before such a crash may not survive it, so take anchors from a chain that has
    been quiet for a second. ``record_many`` likewise sends each slice as one JSON parameter.

Tamper evidence, and its limits
    On PostgreSQL triggers (migration 0002) refuse DELETE and TRUNCATE of events, refuse inserting an
    event that is already sealed, and refuse UPDATE except the one-time sealing of an unsealed event
    (only seq, prev_hash and hash may change). The head may only move forward and must point at the
    hash of a sealed event. ``verify`` recomputes every hash in seq order and names the first broken link:
    an altered event (its hash no longer matches), a removed or reordered one (a gap in seq, or a
    prev_hash that does not match the event before), a tail cut off (the head is ahead of the last event).

    The hash is not keyed: someone who can disable the triggers (the table's owner) could rewrite the
    whole chain consistently. To catch that, keep the head (``verify`` prints it) somewhere outside the
    database now and then, and pass it back as ``anchor`` (``verify_audit --anchor SEQ:HASH``).

Never put personal data in ``data``: refer to people by pseudonymous id, so that erasing a person later
never breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from django.db import connection, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from core import clock
from core.actors import Actor, as_actor
from core.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
HEAD_PK = 1
INSERT_BATCH = 2000  # rows per INSERT statement in record_many
SEAL_BATCH = 5000  # events chained per sealing transaction
# The on-commit seal chains at most this many batches, so one request never ends up sealing a whole
# ingestion run for everybody else; the periodic task and later commits take the rest.
ON_COMMIT_MAX_BATCHES = 10

# The columns a new event is written with, and the ones its hash covers (with seq and prev_hash).
_INSERT_FIELDS = (
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "data",
)
_HASHED_FIELDS = ("id", *_INSERT_FIELDS)
_TABLE = AuditEvent._meta.db_table
# seq stays NULL; prev_hash and hash go in as '' (they have no database default). Plain fields, so each
# column is named like its field.
_INSERT_COLUMNS = ", ".join((*_INSERT_FIELDS, "prev_hash", "hash"))

Row = tuple[Any, ...]  # values of _HASHED_FIELDS, in that order


@dataclass
class PendingEvent:
    """One event for ``record_many``: the same arguments ``record`` takes."""

    actor: Any
    action: str
    target: models.Model | None = None
    target_type: str = ""
    target_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


# --- writing --------------------------------------------------------------------------------------------


def _target_ref(target: models.Model | None, target_type: str, target_id: str) -> tuple[str, str]:
    if target is not None:
        if target.pk is None:
            raise ValueError(f"audit target {target!r} has no primary key yet: save it first")
        return target._meta.label_lower, str(target.pk)
    return target_type, str(target_id)


def _values(ev: PendingEvent, now: datetime) -> tuple[Any, ...]:
    """The checked values of _INSERT_FIELDS for one event."""
    if not ev.action or len(ev.action) > 80:
        raise ValueError(f"audit action must be 1 to 80 characters: {ev.action!r}")
    if not isinstance(ev.data, dict):
        raise TypeError(f"audit data must be a dict, not {type(ev.data).__name__}")
    occurred_at = ev.occurred_at or now
    if occurred_at.tzinfo is None:
        raise ValueError("audit occurred_at must be an aware datetime")
    a: Actor = as_actor(ev.actor)
    ttype, tid = _target_ref(ev.target, ev.target_type, ev.target_id)
    for name, value, limit in (("actor id", a.id, 64), ("target type", ttype, 80), ("target id", tid, 64)):
        if len(value) > limit:  # PostgreSQL would refuse it, SQLite would keep it: refuse it everywhere
            raise ValueError(f"audit {name} longer than {limit} characters: {value[:80]!r}")
    return (occurred_at, a.kind, a.id, a.label[:150], ev.action, ttype, tid, ev.data)


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Call inside the service's transaction so it commits (or not) with the change."""
    values = _values(PendingEvent(actor, action, target, target_type, target_id, data or {}), clock.now())
    ev = AuditEvent(**dict(zip(_INSERT_FIELDS, values, strict=True)))
    ev.save(force_insert=True)
    _seal_on_commit()
    return ev


def record_many(events: Iterable[PendingEvent]) -> int:
    """Append many events, one INSERT per ~2,000 (batch ingestion). Returns how many were written.

    The iterable is consumed in slices, so memory stays flat however many events it yields. All slices
    go in one transaction (a savepoint inside the caller's): either every event is written or none, and
    an invalid event leaves the caller's transaction usable. Values are adapted for the database
    directly (no model instances): this is the hot path of batch ingestion.
    """
    now = clock.now()
    if connection.vendor == "postgresql":
        insert, per_statement = _insert_recordset, INSERT_BATCH
    else:
        params_per_row = len(_INSERT_FIELDS) + 2
        insert = _insert_values
        per_statement = max(1, min(INSERT_BATCH, _max_query_params(connection) // params_per_row))
    written = 0
    it = iter(events)
    with transaction.atomic(), connection.cursor() as cursor:
        while chunk := [_values(e, now) for e in islice(it, per_statement)]:
            insert(cursor, chunk)
            written += len(chunk)
    if written:
        _seal_on_commit()
    return written


def _insert_recordset(cursor: CursorWrapper, chunk: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: one INSERT ... SELECT FROM jsonb_to_recordset(%s), the whole slice as one JSON
    parameter. Thousands of placeholders (or text arrays, which psycopg escapes element by element in
    Python) cost more than the database's own work; one JSON document is encoded by the C encoder."""
    batch = json.dumps(
        [
            {
                "at": at.isoformat(),
                "t": atype,
                "i": aid,
                "l": label,
                "a": action,
                "tt": ttype,
                "ti": tid,
                "d": data,
            }
            for at, atype, aid, label, action, ttype, tid, data in chunk
        ]
    )
    cursor.execute(
        f"INSERT INTO {_TABLE} ({_INSERT_COLUMNS}) "  # noqa: S608 - names from the model, values are parameters
        "SELECT v.at, v.t, v.i, v.l, v.a, v.tt, v.ti, v.d, '', '' FROM jsonb_to_recordset(%s::jsonb) "
        "AS v(at timestamptz, t varchar, i varchar, l varchar, a varchar, tt varchar, ti varchar, d jsonb)",
        [batch],
    )


def _insert_values(cursor: CursorWrapper, chunk: list[tuple[Any, ...]]) -> None:
    """Any other database: one multi-row INSERT ... VALUES."""
    ops = connection.ops
    params: list[Any] = []
    for at, *texts, data in chunk:
        params += (ops.adapt_datetimefield_value(at), *texts, ops.adapt_json_value(data, None), "", "")
    row = "(" + ", ".join(["%s"] * (len(_INSERT_FIELDS) + 2)) + ")"
    values = ", ".join([row] * len(chunk))
    cursor.execute(f"INSERT INTO {_TABLE} ({_INSERT_COLUMNS}) VALUES {values}", params)  # noqa: S608


def _max_query_params(conn: BaseDatabaseWrapper) -> int:
    if conn.vendor == "sqlite":
        conn.ensure_connection()
        return int(conn.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return int(conn.features.max_query_params or 65535)  # psycopg: at most 65,535 parameters


def _seal_after_commit() -> None:
    seal(wait=False, max_batches=ON_COMMIT_MAX_BATCHES)


def _seal_on_commit() -> None:
    """Seal once after the current transaction commits (once per transaction, however many events)."""
    if connection.in_atomic_block and any(
        entry[1] is _seal_after_commit for entry in getattr(connection, "run_on_commit", [])
    ):
        return
    # robust: a failed seal is logged, never turned into an error for a change that has committed.
    transaction.on_commit(_seal_after_commit, robust=True)


# --- hashing --------------------------------------------------------------------------------------------


def _canonical_row(row: Row, seq: int, prev_hash: str) -> bytes:
    pk, at, actor_type, actor_id, actor_label, action, target_type, target_id, data = row
    body = {
        "id": pk,
        "seq": seq,
        "prev": prev_hash,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": [actor_type, actor_id, actor_label],
        "action": action,
        "target": [target_type, target_id],
        "data": data,
    }
    # ASCII-only output: any string the database hands back (even a lone surrogate) hashes the same way.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _row_hash(row: Row, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(_canonical_row(row, seq, prev_hash)).hexdigest()


def _as_row(event: AuditEvent) -> Row:
    return tuple(getattr(event, "pk" if name == "id" else name) for name in _HASHED_FIELDS)


def canonical(event: AuditEvent, seq: int, prev_hash: str) -> bytes:
    """The bytes a hash covers: every field of the event, its id and chain position, and the previous hash.

    Computed from values as read back from the database (the sealer reads the rows it chains), so the
    database's own normalisation of JSON or times never makes the verifier disagree with the sealer.
    """
    return _canonical_row(_as_row(event), seq, prev_hash)


def event_hash(event: AuditEvent, seq: int, prev_hash: str) -> str:
    return _row_hash(_as_row(event), seq, prev_hash)


# --- sealing --------------------------------------------------------------------------------------------


def seal(*, batch_size: int = SEAL_BATCH, wait: bool = True, max_batches: int | None = None) -> int:
    """Chain every unsealed event, oldest id first. Returns how many were chained. Safe to call from many
    processes at once: they take turns on the head's row lock.

    ``wait=False`` returns 0 at once if another sealer holds the lock (that one will chain what is
    pending). ``max_batches`` bounds the work of one call; without it, it seals until nothing is left.
    """
    sealed = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        # A plain read first: when nothing is pending (the common case for all but one of many
        # concurrent sealers) no lock is taken and nothing is committed.
        if not AuditEvent.objects.filter(seq__isnull=True).exists():
            break
        n = _seal_batch(batch_size, wait=wait)
        if not n:
            break
        sealed += n
        batches += 1
    return sealed


def _seal_batch(batch_size: int, *, wait: bool) -> int:
    with transaction.atomic():
        head = _lock_head(wait=wait)
        if head is None:
            return 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Walk the partial index of unsealed ids in order (it stops after batch_size rows). A
                # bitmap scan would read and sort every unsealed row and never mark the index entries
                # that sealing left dead, so every seal until the next vacuum would pay for them again.
                # A seal need not wait for its WAL to reach disk: if a crash loses it, the events are
                # simply unsealed again and the next seal chains them (the head goes back with them).
                cursor.execute("SET LOCAL enable_bitmapscan = off; SET LOCAL synchronous_commit = off")
        rows = list(
            AuditEvent.objects.filter(seq__isnull=True)
            .order_by("id")
            .values_list(*_HASHED_FIELDS)[:batch_size]
        )
        if not rows:
            return 0
        seq, prev = head.last_seq, head.last_hash
        seals: list[tuple[int, int, str, str]] = []
        for row in rows:
            seq += 1
            digest = _row_hash(row, seq, prev)
            seals.append((row[0], seq, prev, digest))
            prev = digest
        written = _write_seals(seals)
        if written != len(seals):  # cannot happen under the lock; refuse to move the head if it does
            raise RuntimeError(f"audit seal wrote {written} of {len(seals)} events; chain left unchanged")
        AuditChainHead.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=prev)
        return len(seals)


def _lock_head(*, wait: bool) -> AuditChainHead | None:
    """Lock the chain head (creating it on first use). None when ``wait`` is false and it is busy."""
    head = AuditChainHead.objects.select_for_update(skip_locked=not wait).filter(pk=HEAD_PK).first()
    if head is not None:
        return head
    if not wait and AuditChainHead.objects.filter(pk=HEAD_PK).exists():
        return None  # it exists, so SKIP LOCKED hid it: another sealer is at work
    AuditChainHead.objects.get_or_create(pk=HEAD_PK)
    return AuditChainHead.objects.select_for_update().get(pk=HEAD_PK)


def _write_seals(seals: list[tuple[int, int, str, str]]) -> int:
    """Set seq, prev_hash and hash on unsealed events. Returns the number of rows changed."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the whole batch, its values as one JSON parameter: far cheaper than
            # Django's CASE WHEN bulk_update, whose SQL grows with every row.
            batch = json.dumps(
                [{"id": pk, "s": seq, "p": prev, "h": digest} for pk, seq, prev, digest in seals]
            )
            cursor.execute(
                f"UPDATE {_TABLE} AS e SET seq = v.s, prev_hash = v.p, hash = v.h "  # noqa: S608
                "FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, s bigint, p varchar, h varchar) "
                "WHERE e.id = v.id AND e.seq IS NULL",
                [batch],
            )
        else:
            cursor.executemany(
                f"UPDATE {_TABLE} SET seq = %s, prev_hash = %s, hash = %s WHERE id = %s AND seq IS NULL",  # noqa: S608
                [(seq, prev, digest, pk) for pk, seq, prev, digest in seals],
            )
        return int(cursor.rowcount)


# --- verifying ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    """The first place where the chain does not hold.

    ``kind`` is one of: ``altered`` (the event's hash no longer matches its content), ``removed`` (a gap
    in seq: the events before ``seq`` are missing), ``reordered`` (prev_hash does not match the event
    before: events were removed, moved, or the one before was altered and re-hashed), ``truncated`` (the
    chain ends before the head: events were cut off the end), ``head`` (the head does not match the last
    event, or is missing), ``anchor`` (the event differs from an externally kept anchor).
    """

    kind: str
    seq: int | None
    id: int | None
    action: str
    reason: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "the chain"
        ident = f" (id {self.id}, action {self.action})" if self.id is not None else ""
        return f"{where}{ident}: {self.kind}: {self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events_checked: int
    head_seq: int
    head_hash: str
    first_broken: BrokenLink | None
    unsealed: int
    stale_unsealed: int
    oldest_unsealed_at: datetime | None


def head() -> tuple[int, str]:
    """The chain's last position and hash, to keep somewhere outside the database as an anchor."""
    row = AuditChainHead.objects.filter(pk=HEAD_PK).values_list("last_seq", "last_hash").first()
    return row if row is not None else (0, GENESIS)


def verify(
    *,
    chunk_size: int = 5000,
    stale_after: timedelta = timedelta(minutes=5),
    anchor: tuple[int, str] | None = None,
) -> VerifyResult:
    """Walk the whole chain in seq order, recomputing every hash. Read-only: it seals nothing.

    Streams rows in chunks (a server-side cursor on PostgreSQL), so memory stays flat for any length.
    Reads one consistent snapshot (REPEATABLE READ on PostgreSQL) so a seal running meanwhile is never
    mistaken for damage. Stops at the first broken link. Unsealed events are counted; those that
    occurred more than ``stale_after`` ago suggest a lost seal (the periodic task should have caught
    them). ``occurred_at`` is the time of recording unless a caller of ``record_many`` backdated it, so a
    backdated batch caught between its commit and its seal can show up there for a moment.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        head_row = AuditChainHead.objects.filter(pk=HEAD_PK).values_list("last_seq", "last_hash").first()
        checked, last_seq, last_hash, broken = _walk(_stream(chunk_size), anchor)
        if broken is None:
            broken = _check_head(head_row, last_seq, last_hash, checked)
        if broken is None and anchor is not None and anchor[0] > last_seq:
            broken = BrokenLink(
                "anchor", anchor[0], None, "", f"the chain ends at seq {last_seq}, before the anchor"
            )
        unsealed = AuditEvent.objects.filter(seq__isnull=True)
        stale = unsealed.filter(occurred_at__lt=clock.now() - stale_after)
        counts = unsealed.count(), stale.count()
        oldest = unsealed.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    head_seq, head_hash = head_row if head_row is not None else (0, GENESIS)
    return VerifyResult(
        ok=broken is None,
        events_checked=checked,
        head_seq=head_seq,
        head_hash=head_hash,
        first_broken=broken,
        unsealed=counts[0],
        stale_unsealed=counts[1],
        oldest_unsealed_at=oldest,
    )


def _stream(chunk_size: int) -> Iterator[tuple[Any, ...]]:
    return (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values_list("seq", "prev_hash", "hash", *_HASHED_FIELDS)
        .iterator(chunk_size=chunk_size)
    )


def _walk(
    rows: Iterator[tuple[Any, ...]], anchor: tuple[int, str] | None
) -> tuple[int, int, str, BrokenLink | None]:
    """Check each link. Returns (events checked, last seq, last hash, first broken link or None)."""
    expected_seq, prev = 1, GENESIS
    checked = 0
    for seq, prev_hash, stored_hash, *fields in rows:
        row = tuple(fields)
        pk, action = row[0], row[5]
        checked += 1
        if seq != expected_seq:
            missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq}..{seq - 1}"
            return (
                checked,
                seq,
                stored_hash,
                BrokenLink(
                    "removed", seq, pk, action, f"{missing} missing: events were removed or renumbered"
                ),
            )
        if prev_hash != prev:
            return (
                checked,
                seq,
                stored_hash,
                BrokenLink(
                    "reordered",
                    seq,
                    pk,
                    action,
                    "prev_hash does not match the hash of the event before: events were removed, "
                    "reordered, or the one before was altered and re-hashed",
                ),
            )
        if _row_hash(row, seq, prev_hash) != stored_hash:
            return (
                checked,
                seq,
                stored_hash,
                BrokenLink(
                    "altered", seq, pk, action, "hash mismatch: the event was altered after it was sealed"
                ),
            )
        if anchor is not None and seq == anchor[0] and stored_hash != anchor[1]:
            return (
                checked,
                seq,
                stored_hash,
                BrokenLink(
                    "anchor", seq, pk, action, "hash differs from the anchor kept outside the database"
                ),
            )
        expected_seq, prev = seq + 1, stored_hash
    return checked, expected_seq - 1, prev, None


def _check_head(
    head_row: tuple[int, str] | None, last_seq: int, last_hash: str, checked: int
) -> BrokenLink | None:
    if head_row is None:
        if checked:
            return BrokenLink("head", None, None, "", "the chain head is missing but sealed events exist")
        return None
    head_seq, head_hash = head_row
    if head_seq > last_seq:
        missing = f"seq {last_seq + 1}" if head_seq == last_seq + 1 else f"seq {last_seq + 1}..{head_seq}"
        return BrokenLink(
            "truncated",
            last_seq + 1,
            None,
            "",
            f"the chain ends at seq {last_seq} but the head is at seq {head_seq}: "
            f"{missing} removed from the end",
        )
    if head_seq < last_seq:
        return BrokenLink(
            "head",
            head_seq + 1,
            None,
            "",
            f"events after the head (seq {head_seq}) were sealed outside the sealer",
        )
    if head_hash != last_hash:
        return BrokenLink(
            "head",
            last_seq,
            None,
            "",
            "the head's hash does not match the last event: it was altered and re-hashed",
        )
    return None
