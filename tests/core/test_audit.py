"""The audit log (S28): append-only, hash-chained, verified link by link."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from core import audit
from core.actors import Actor
from core.models import AuditChainHead, AuditEvent, User

ALICE = Actor(kind="user", id="7", label="alice")
pytestmark = pytest.mark.django_db


def _record(n: int, action: str = "decision.recorded") -> list[AuditEvent]:
    return [
        audit.record(
            actor=ALICE, action=action, target_type="decisions.decision", target_id=str(i), data={"i": i}
        )
        for i in range(n)
    ]


def _chain(n: int) -> list[AuditEvent]:
    _record(n)
    assert audit.seal() == n
    return list(AuditEvent.objects.order_by("seq"))


@contextmanager
def tampering() -> Iterator[Any]:
    """A cursor that can edit the log behind the application's back, as someone with table-owner rights
    could: on PostgreSQL the append-only triggers are switched off inside the test's transaction."""
    tables = ("core_auditevent", "core_auditchainhead")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield cursor
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


# --- writing and sealing --------------------------------------------------------------------------------


def test_record_writes_an_unsealed_event_with_actor_target_and_data() -> None:
    ev = audit.record(
        actor=ALICE, action="appeal.filed", target_type="appeals.appeal", target_id="42", data={"a": 1}
    )

    row = AuditEvent.objects.get(pk=ev.pk)
    assert (row.seq, row.prev_hash, row.hash) == (None, "", "")
    assert (row.actor_type, row.actor_id, row.actor_label) == ("user", "7", "alice")
    assert (row.action, row.target_type, row.target_id, row.data) == (
        "appeal.filed",
        "appeals.appeal",
        "42",
        {"a": 1},
    )
    assert row.occurred_at.tzinfo is not None


def test_record_names_a_model_target_by_its_label_and_primary_key() -> None:
    user = User.objects.create(username="reviewer1")
    ev = audit.record(actor=Actor.system(), action="user.created", target=user)
    assert (ev.target_type, ev.target_id) == ("core.user", str(user.pk))


def test_record_refuses_an_unsaved_target_an_empty_action_and_a_naive_time() -> None:
    with pytest.raises(ValueError, match="no primary key"):
        audit.record(actor=ALICE, action="x.y", target=AuditChainHead())
    with pytest.raises(ValueError, match="action"):
        audit.record(actor=ALICE, action="")
    with pytest.raises(ValueError, match="target id longer than 64"):
        audit.record(actor=ALICE, action="x.y", target_type="t", target_id="9" * 65)
    with pytest.raises(ValueError, match="aware"):
        audit.record_many([audit.PendingEvent(ALICE, "x.y", occurred_at=datetime(2026, 1, 1))])
    assert AuditEvent.objects.count() == 0


def test_seal_chains_events_in_id_order_from_the_genesis_hash() -> None:
    events = _record(3)

    assert audit.seal() == 3

    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.pk for r in rows] == [e.pk for e in events]
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == audit.GENESIS
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert all(r.hash == audit.event_hash(r, r.seq, r.prev_hash) for r in rows)  # type: ignore[arg-type]
    assert audit.head() == (3, rows[2].hash)


def test_seal_with_nothing_pending_changes_nothing() -> None:
    _chain(2)
    before = list(AuditEvent.objects.values_list("seq", "hash"))
    assert audit.seal() == 0
    assert list(AuditEvent.objects.values_list("seq", "hash")) == before


def test_seal_continues_the_chain_across_batches_and_calls() -> None:
    _record(5)
    assert audit.seal(batch_size=2) == 5
    _record(3)
    assert audit.seal(batch_size=2, max_batches=1) == 2
    assert audit.seal() == 1
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 9))
    assert audit.verify().ok


def test_the_hash_covers_a_fixed_canonical_form() -> None:
    """A known answer: changing what the hash covers, or how, would break every existing chain."""
    ev = AuditEvent(
        id=12,
        occurred_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        actor_type="api_client",
        actor_id="3",
        actor_label="Acme scoring",
        action="decision.recorded",
        target_type="decisions.decision",
        target_id="0190",
        data={"b": [1, 2.5], "a": "ü"},
    )
    assert audit.canonical(ev, 5, "ab" * 32) == (
        b'{"action":"decision.recorded","actor":["api_client","3","Acme scoring"],'
        b'"at":"2026-03-01T09:30:00.000000+00:00","data":{"a":"\\u00fc","b":[1,2.5]},"id":12,'
        b'"prev":"' + b"ab" * 32 + b'","seq":5,"target":["decisions.decision","0190"]}'
    )
    assert (
        audit.event_hash(ev, 5, "ab" * 32)
        == "9a513157952337452d4d56bd853166508cfc5d9646a611d34558ff1fd6163385"
    )


def test_a_committed_transaction_seals_its_events_once(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _record(3)

    assert len(callbacks) == 1  # one seal per transaction, however many events it wrote
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    assert audit.verify().ok


def test_record_many_writes_5000_events_in_a_few_statements(django_assert_max_num_queries: Any) -> None:
    events = (
        audit.PendingEvent(
            ALICE, "decision.recorded", target_type="decisions.decision", target_id=str(i), data={"i": i}
        )
        for i in range(5000)
    )
    with django_assert_max_num_queries(5):  # one INSERT per 2,000 rows, inside a savepoint
        assert audit.record_many(events) == 5000

    assert AuditEvent.objects.filter(seq__isnull=True).count() == 5000
    assert audit.seal() == 5000
    result = audit.verify(chunk_size=777)
    assert (result.ok, result.events_checked) == (True, 5000)
    assert set(AuditEvent.objects.values_list("data__i", flat=True)) == set(range(5000))


def test_record_and_record_many_store_the_same_data_and_both_verify() -> None:
    data = {
        "text": "Ñandú \u2013 漢字 \u2028",
        "n": 3,
        "x": 0.1,
        "big": 2**53 + 1,
        "none": None,
        "list": [True, {}],
    }
    at = datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    one = audit.record(actor=ALICE, action="a.b", data=data)
    audit.record_many([audit.PendingEvent(ALICE, "a.b", data=data, occurred_at=at)])

    stored = list(AuditEvent.objects.order_by("id"))
    assert [e.data for e in stored] == [data, data]
    assert stored[0].pk == one.pk and stored[1].occurred_at == at
    assert audit.seal() == 2
    assert audit.verify().ok


def test_record_many_writes_nothing_when_one_event_is_invalid() -> None:
    good = [audit.PendingEvent(ALICE, "decision.recorded", data={"i": i}) for i in range(2500)]
    with pytest.raises(ValueError, match="action"):
        audit.record_many([*good, audit.PendingEvent(ALICE, "")])
    assert AuditEvent.objects.count() == 0


def test_record_many_with_no_events_writes_nothing() -> None:
    assert audit.record_many([]) == 0
    assert AuditEvent.objects.count() == 0


# --- verifying ------------------------------------------------------------------------------------------


def test_verify_passes_on_an_intact_chain_and_reports_the_head() -> None:
    rows = _chain(4)
    result = audit.verify(chunk_size=3)
    assert result.ok and result.first_broken is None
    assert result.events_checked == 4
    assert (result.head_seq, result.head_hash) == (4, rows[-1].hash)
    assert result.unsealed == 0


def test_verify_passes_on_an_empty_log() -> None:
    result = audit.verify()
    assert (result.ok, result.events_checked, result.head_seq) == (True, 0, 0)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("occurred_at", "2020-01-01 00:00:00"),
        ("actor_type", "system"),
        ("actor_id", "8"),
        ("actor_label", "mallory"),
        ("action", "decision.deleted"),
        ("target_type", "appeals.appeal"),
        ("target_id", "999"),
        ("data", '{"i": 99}'),
        ("hash", "f" * 64),
    ],
)
def test_verify_names_an_event_altered_in_any_column(column: str, value: str) -> None:
    rows = _chain(4)
    with tampering() as cursor:
        cursor.execute(f"UPDATE core_auditevent SET {column} = %s WHERE id = %s", [value, rows[2].pk])  # noqa: S608

    result = audit.verify()

    assert not result.ok and result.first_broken is not None
    assert (result.first_broken.kind, result.first_broken.seq, result.first_broken.id) == (
        "altered",
        3,
        rows[2].pk,
    )
    assert "hash mismatch" in result.first_broken.reason


def test_verify_names_the_event_after_a_deleted_one() -> None:
    rows = _chain(5)
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [rows[1].pk])

    broken = audit.verify().first_broken

    assert broken is not None
    assert (broken.kind, broken.seq, broken.id, broken.action) == (
        "removed",
        3,
        rows[2].pk,
        "decision.recorded",
    )
    assert "seq 2 missing" in broken.reason


def test_verify_names_a_gap_at_the_start_of_the_chain() -> None:
    rows = _chain(3)
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [rows[0].pk])

    broken = audit.verify().first_broken
    assert broken is not None and (broken.kind, broken.seq) == ("removed", 2)


def test_verify_names_a_reordered_pair_of_events() -> None:
    rows = _chain(5)
    with tampering() as cursor:  # swap the chain positions of events 2 and 3 (with their links)
        cursor.execute("UPDATE core_auditevent SET seq = -seq WHERE id IN (%s, %s)", [rows[1].pk, rows[2].pk])
        cursor.execute("UPDATE core_auditevent SET seq = 3 WHERE id = %s", [rows[1].pk])
        cursor.execute("UPDATE core_auditevent SET seq = 2 WHERE id = %s", [rows[2].pk])

    broken = audit.verify().first_broken

    assert broken is not None
    assert (broken.kind, broken.seq, broken.id) == ("reordered", 2, rows[2].pk)
    assert "prev_hash" in broken.reason


def test_verify_names_events_whose_contents_were_swapped() -> None:
    rows = _chain(4)
    with tampering() as cursor:
        cursor.execute("UPDATE core_auditevent SET data = %s WHERE id = %s", ['{"i": 2}', rows[1].pk])
        cursor.execute("UPDATE core_auditevent SET data = %s WHERE id = %s", ['{"i": 1}', rows[2].pk])

    broken = audit.verify().first_broken
    assert broken is not None and (broken.kind, broken.seq, broken.id) == ("altered", 2, rows[1].pk)


def test_verify_names_the_event_after_one_that_was_altered_and_rehashed() -> None:
    rows = _chain(4)
    forged = AuditEvent.objects.get(pk=rows[1].pk)
    forged.data = {"i": 1000}
    with tampering() as cursor:
        cursor.execute(
            "UPDATE core_auditevent SET data = %s, hash = %s WHERE id = %s",
            ['{"i": 1000}', audit.event_hash(forged, 2, rows[0].hash), rows[1].pk],
        )

    broken = audit.verify().first_broken
    assert broken is not None and (broken.kind, broken.seq, broken.id) == ("reordered", 3, rows[2].pk)


def test_verify_notices_a_tail_cut_off_the_end() -> None:
    rows = _chain(5)
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id IN (%s, %s)", [rows[3].pk, rows[4].pk])

    result = audit.verify()

    assert not result.ok and result.first_broken is not None
    assert (result.first_broken.kind, result.first_broken.seq) == ("truncated", 4)
    assert "ends at seq 3 but the head is at seq 5" in result.first_broken.reason
    assert result.events_checked == 3


def test_verify_notices_a_whole_log_removed() -> None:
    _chain(2)
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditevent")
    broken = audit.verify().first_broken
    assert broken is not None and (broken.kind, broken.seq) == ("truncated", 1)


def test_verify_notices_a_missing_head() -> None:
    _chain(2)
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditchainhead")
    broken = audit.verify().first_broken
    assert broken is not None and broken.kind == "head"


def test_verify_compares_the_chain_with_an_anchor_kept_outside() -> None:
    rows = _chain(3)
    assert audit.verify(anchor=(2, rows[1].hash)).ok

    broken = audit.verify(anchor=(2, "e" * 64)).first_broken
    assert broken is not None and (broken.kind, broken.seq, broken.id) == ("anchor", 2, rows[1].pk)

    beyond = audit.verify(anchor=(9, "e" * 64)).first_broken
    assert beyond is not None and beyond.kind == "anchor"


def test_verify_streams_the_chain_in_constant_memory() -> None:
    def peak_while_verifying() -> int:
        tracemalloc.start()
        try:
            assert audit.verify(chunk_size=200).ok
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    audit.record_many(audit.PendingEvent(ALICE, "x.y", data={"pad": "x" * 400}) for _ in range(2000))
    audit.seal()
    small = peak_while_verifying()
    audit.record_many(audit.PendingEvent(ALICE, "x.y", data={"pad": "x" * 400}) for _ in range(8000))
    audit.seal()
    large = peak_while_verifying()

    # Holding the rows would take five times the memory (and ~5 MB more); streaming takes about the same.
    assert large < small * 1.5 + 500_000, (small, large)


def test_verify_counts_unsealed_events_and_flags_old_ones() -> None:
    _chain(2)
    audit.record(actor=ALICE, action="fresh.event")
    audit.record_many(
        [audit.PendingEvent(ALICE, "old.event", occurred_at=datetime.now(UTC) - timedelta(minutes=30))]
    )

    result = audit.verify(stale_after=timedelta(minutes=5))

    assert result.ok  # unsealed events are pending, not damage
    assert (result.events_checked, result.unsealed, result.stale_unsealed) == (2, 2, 1)
    assert result.oldest_unsealed_at is not None
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 2  # verify sealed nothing


# --- the command ----------------------------------------------------------------------------------------


def test_verify_audit_prints_how_many_events_it_checked_on_an_intact_chain() -> None:
    rows = _chain(3)
    out, err = StringIO(), StringIO()

    call_command("verify_audit", stdout=out, stderr=err)

    assert "audit chain intact: 3 event(s) checked" in out.getvalue()
    assert f"head: 3:{rows[-1].hash}" in out.getvalue()
    assert err.getvalue() == ""


def test_verify_audit_exits_non_zero_naming_the_first_broken_event() -> None:
    rows = _chain(4)
    with tampering() as cursor:
        cursor.execute("UPDATE core_auditevent SET actor_id = %s WHERE id = %s", ["999", rows[1].pk])
    out, err = StringIO(), StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit", stdout=out, stderr=err)

    assert exit_info.value.code == 1
    message = err.getvalue()
    assert f"seq 2 (id {rows[1].pk}, action decision.recorded): altered: hash mismatch" in message
    assert "intact" not in out.getvalue()


def test_verify_audit_exits_non_zero_on_a_truncated_chain() -> None:
    rows = _chain(3)
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [rows[2].pk])
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit", stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 1
    assert "seq 3: truncated" in err.getvalue()


def test_verify_audit_warns_about_unsealed_events_left_behind_but_passes() -> None:
    _chain(1)
    audit.record_many(
        [audit.PendingEvent(ALICE, "old.event", occurred_at=datetime.now(UTC) - timedelta(hours=1))]
    )
    out, err = StringIO(), StringIO()

    call_command("verify_audit", "--stale-minutes", "10", stdout=out, stderr=err)

    assert "1 unsealed event(s) older than 10 minutes" in err.getvalue()
    assert "audit chain intact: 1 event(s) checked, 1 not yet sealed" in out.getvalue()


def test_verify_audit_checks_an_anchor_and_refuses_a_malformed_one() -> None:
    rows = _chain(2)
    call_command("verify_audit", "--anchor", f"1:{rows[0].hash}", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(SystemExit):
        call_command("verify_audit", "--anchor", f"1:{'0' * 64}", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="SEQ:HASH"):
        call_command("verify_audit", "--anchor", "nonsense")


# --- PostgreSQL: the triggers and concurrent sealing ----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE core_auditevent SET data = '{\"i\": 5}' WHERE seq = 1",
        "UPDATE core_auditevent SET seq = 10 WHERE seq = 1",
        "UPDATE core_auditevent SET hash = repeat('a', 64) WHERE seq = 1",
        "DELETE FROM core_auditevent WHERE seq = 1",
        "TRUNCATE core_auditevent",
        "UPDATE core_auditchainhead SET last_seq = 0, last_hash = repeat('0', 64)",
        "DELETE FROM core_auditchainhead",
        "TRUNCATE core_auditchainhead",
        "INSERT INTO core_auditchainhead (last_seq, last_hash) VALUES (0, repeat('0', 64))",
    ],
)
def test_the_trigger_refuses_to_change_or_remove_sealed_history(sql: str) -> None:
    _chain(2)
    with (
        pytest.raises(DatabaseError, match="audit log is append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert audit.verify().ok


@pytest.mark.postgres
def test_the_trigger_refuses_changing_an_unsealed_event_other_than_by_sealing_it() -> None:
    ev = audit.record(actor=ALICE, action="x.y", data={"i": 1})
    for sql, params in [
        ("UPDATE core_auditevent SET data = '{}' WHERE id = %s", [ev.pk]),
        (
            "UPDATE core_auditevent SET seq = 1, prev_hash = repeat('0', 64), hash = repeat('a', 64), "
            "action = 'y.z' WHERE id = %s",
            [ev.pk],
        ),
        ("UPDATE core_auditevent SET seq = 1 WHERE id = %s", [ev.pk]),  # no hash: not a seal
        ("DELETE FROM core_auditevent WHERE id = %s", [ev.pk]),
        (
            "INSERT INTO core_auditevent (occurred_at, actor_type, actor_id, actor_label, action, "
            "target_type, target_id, data, seq, prev_hash, hash) "
            "VALUES (now(), 'system', 's', '', 'x', '', '', '{}', 99, '', '')",
            [],
        ),
    ]:
        with (
            pytest.raises(DatabaseError, match="audit log is append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
    assert audit.seal() == 1  # sealing itself is allowed
    assert audit.verify().ok


def _changed(field: Any) -> str:
    """SQL that changes one column's value, whatever its type."""
    kind = field.get_internal_type()
    if kind in ("BigAutoField", "AutoField", "BigIntegerField"):
        return f"{field.column} + 1000"
    if kind == "DateTimeField":
        return f"{field.column} - interval '1 day'"
    if kind == "JSONField":
        return "'{\"tampered\": true}'::jsonb"
    return f"{field.column} || '!'"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "field",
    [f for f in AuditEvent._meta.concrete_fields if f.column not in ("seq", "prev_hash", "hash")],
    ids=lambda f: f.column,
)
def test_sealing_may_not_change_any_other_column(field: Any) -> None:
    """Covers every column of the model, so a column added later is checked too."""
    ev = audit.record(actor=ALICE, action="x.y", target_type="t", target_id="1", data={"i": 1})
    with (
        pytest.raises(DatabaseError, match="may only set seq, prev_hash, hash"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE core_auditevent SET seq = 1, prev_hash = repeat('0', 64), hash = repeat('a', 64), "  # noqa: S608
            f"{field.column} = {_changed(field)} WHERE id = %s",
            [ev.pk],
        )
    assert audit.seal() == 1


@pytest.mark.postgres
def test_the_trigger_refuses_a_head_that_does_not_point_at_a_sealed_event() -> None:
    _chain(2)
    with pytest.raises(DatabaseError, match="must point at a sealed event"), transaction.atomic():
        AuditChainHead.objects.filter(pk=audit.HEAD_PK).update(last_seq=3, last_hash="c" * 64)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sealers_yield_one_gapless_chain() -> None:
    writers, per_writer = 6, 40
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                with transaction.atomic():  # each commit triggers a seal that does not wait for the lock
                    audit.record(actor=ALICE, action="load.test", data={"w": w, "i": i})
                if i % 10 == 0:
                    audit.seal()  # and some seals that do wait, all racing each other
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    audit.seal()  # whatever a skipped on-commit seal left behind
    total = writers * per_writer
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, total + 1))
    result = audit.verify()
    assert (result.ok, result.events_checked, result.unsealed) == (True, total, 0)
    assert audit.head()[0] == total


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_seal_that_must_not_wait_returns_at_once_while_another_holds_the_head() -> None:
    audit.record(actor=ALICE, action="first.event")  # committed at once, and sealed: the head exists
    locked, release = threading.Event(), threading.Event()

    def hold_the_head() -> None:
        try:
            with transaction.atomic():
                AuditChainHead.objects.select_for_update().get(pk=audit.HEAD_PK)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_head)
    holder.start()
    assert locked.wait(10)
    try:
        ev = audit.record(actor=ALICE, action="x.y")  # commits at once; its seal finds the head busy
        assert audit.seal(wait=False) == 0
        assert AuditEvent.objects.get(pk=ev.pk).seq is None
    finally:
        release.set()
        holder.join()
    assert audit.seal() == 1
    assert audit.verify().ok
