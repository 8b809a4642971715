"""Make the audit log append-only on PostgreSQL (S28). A no-op on other databases.

core_auditevent:
  - INSERT of an event that is already sealed (seq, prev_hash or hash set) is refused: only
    core.audit.seal() gives chain positions.
  - UPDATE is refused, except the one-time sealing of an unsealed event: OLD.seq IS NULL, the new seq,
    prev_hash and hash are set (hashes 64 characters), and every other column is unchanged (compared as
    a whole row, so a column added later is covered too).
  - DELETE and TRUNCATE are refused.
core_auditchainhead:
  - a head may only be created fresh (seq 0, genesis hash) when none exists; it may only move forward and
    must point at the hash of a sealed event; DELETE and TRUNCATE are refused.

It also asks autovacuum to clean core_auditevent often (sealing leaves a dead row version per event).

Errors use SQLSTATE 42501 (insufficient_privilege) and say "audit log is append-only". The table owner
can still disable the triggers: the hash chain (manage.py verify_audit) is what detects that.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION core_auditevent_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unsealed core_auditevent;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq IS NOT NULL OR NEW.prev_hash <> '' OR NEW.hash <> '' THEN
            RAISE EXCEPTION 'audit log is append-only: events are inserted unsealed, only the sealer chains them'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND length(NEW.prev_hash) = 64 AND length(NEW.hash) = 64 THEN
            -- The new row with its seal taken off must equal the old row in every column, including
            -- any column added later. (A row copy is as cheap as no check; to_jsonb would triple the
            -- cost of sealing.)
            unsealed := NEW;
            unsealed.seq := OLD.seq;
            unsealed.prev_hash := OLD.prev_hash;
            unsealed.hash := OLD.hash;
            IF unsealed IS NOT DISTINCT FROM OLD THEN
                RETURN NEW;
            END IF;
        END IF;
        IF OLD.seq IS NULL THEN
            RAISE EXCEPTION 'audit log is append-only: sealing event id % may only set seq, prev_hash, hash',
                OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RAISE EXCEPTION 'audit log is append-only: UPDATE of sealed event seq % (id %) refused',
            OLD.seq, OLD.id
            USING ERRCODE = 'insufficient_privilege';
    ELSE
        RAISE EXCEPTION 'audit log is append-only: DELETE of event id % refused', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION core_auditchainhead_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.last_seq <> 0 OR NEW.last_hash <> repeat('0', 64) THEN
            RAISE EXCEPTION 'audit log is append-only: a new chain head must start at seq 0'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF EXISTS (SELECT 1 FROM core_auditchainhead) THEN
            RAISE EXCEPTION 'audit log is append-only: the chain head already exists'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.id <> OLD.id
           OR NEW.last_seq < OLD.last_seq
           OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash) THEN
            RAISE EXCEPTION 'audit log is append-only: the chain head only moves forward (seq % to %)',
                OLD.last_seq, NEW.last_seq
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.last_seq > OLD.last_seq AND NOT EXISTS (
            SELECT 1 FROM core_auditevent WHERE seq = NEW.last_seq AND hash = NEW.last_hash
        ) THEN
            RAISE EXCEPTION 'audit log is append-only: the chain head must point at a sealed event (seq %)',
                NEW.last_seq
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    ELSE
        RAISE EXCEPTION 'audit log is append-only: the chain head cannot be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION core_audit_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: TRUNCATE of % refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Every event leaves one dead row version when it is sealed: vacuum often, so the partial index of
-- unsealed ids stays small (the default waits until a fifth of the table is dead).
ALTER TABLE core_auditevent SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_analyze_scale_factor = 0.02
);

CREATE TRIGGER core_auditevent_guard
    BEFORE INSERT OR UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_guard();
CREATE TRIGGER core_auditevent_no_truncate
    BEFORE TRUNCATE ON core_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION core_audit_refuse_truncate();
CREATE TRIGGER core_auditchainhead_guard
    BEFORE INSERT OR UPDATE OR DELETE ON core_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION core_auditchainhead_guard();
CREATE TRIGGER core_auditchainhead_no_truncate
    BEFORE TRUNCATE ON core_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION core_audit_refuse_truncate();
"""

BACKWARD = r"""
ALTER TABLE core_auditevent RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor
);
DROP TRIGGER IF EXISTS core_auditchainhead_no_truncate ON core_auditchainhead;
DROP TRIGGER IF EXISTS core_auditchainhead_guard ON core_auditchainhead;
DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;
DROP TRIGGER IF EXISTS core_auditevent_guard ON core_auditevent;
DROP FUNCTION IF EXISTS core_audit_refuse_truncate();
DROP FUNCTION IF EXISTS core_auditchainhead_guard();
DROP FUNCTION IF EXISTS core_auditevent_guard();
"""


def _run(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters, so psycopg leaves the '%' of RAISE format strings alone.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
