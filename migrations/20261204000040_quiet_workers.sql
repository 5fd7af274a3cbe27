-- An idle platform stays idle: the mail worker sleeps until a message is queued (a doorbell at
-- commit) or a retry falls due, and the periodic polls ask, in one query for every Ordine,
-- whether there is anything for them, instead of opening one transaction per Ordine.

-- The doorbell: a message that starts waiting (queued, or sent again by the administrator)
-- rings `patrocinio_posta` when its transaction commits. No payload: the worker asks
-- app.outbox_due() what is due. A retry the worker itself schedules does not ring: the worker
-- knows when it falls due. PostgreSQL folds the identical notifications of one transaction
-- into one.
CREATE FUNCTION app.outbox_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('patrocinio_posta', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify_insert AFTER INSERT ON app.outbox
    FOR EACH ROW WHEN (NEW.status = 'in_attesa')
    EXECUTE FUNCTION app.outbox_notify();
CREATE TRIGGER outbox_notify_update AFTER UPDATE OF status ON app.outbox
    FOR EACH ROW WHEN (NEW.status = 'in_attesa' AND OLD.status <> 'in_attesa')
    EXECUTE FUNCTION app.outbox_notify();

-- For each Ordine with a message that may go (the oldest waiting one of its application and
-- recipient, as the worker takes them), in how many seconds the first is due (0: now).
-- Row-level security stays whole: the function runs as the owner, who is subject to it too
-- (FORCE), one Ordine at a time with that Ordine set, and returns ids and a number only.
-- The caller's Ordine, if any, is set back before it returns.
CREATE FUNCTION app.outbox_due() RETURNS TABLE (ordine uuid, seconds float8)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.tenant_id', true);
    t uuid;
    due timestamptz;
BEGIN
    FOR t IN SELECT id FROM app.tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        SELECT o.next_attempt_at INTO due
          FROM app.outbox o
         WHERE o.status = 'in_attesa'
           AND NOT EXISTS (
               SELECT 1 FROM app.outbox p
                WHERE p.status = 'in_attesa' AND p.id < o.id AND p.recipient = o.recipient
                  AND p.application_id IS NOT DISTINCT FROM o.application_id
                  AND NOT p.digest)
         ORDER BY o.next_attempt_at
         LIMIT 1;
        IF FOUND THEN
            ordine := t;
            seconds := greatest(0, extract(epoch FROM due - now()))::float8;
            RETURN NEXT;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
END $$;
REVOKE ALL ON FUNCTION app.outbox_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.outbox_due() TO patrocinio_app;

-- The live listener's fallback poll: the last event id of each Ordine that has events, in one
-- query (the same rules as above: owner subject to FORCE row-level security, ids only).
CREATE INDEX events_tenant ON app.events (tenant_id, id);
CREATE FUNCTION app.events_latest() RETURNS TABLE (ordine uuid, last_event bigint)
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.tenant_id', true);
    t uuid;
    newest bigint;
BEGIN
    FOR t IN SELECT id FROM app.tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        SELECT max(e.id) INTO newest FROM app.events e;
        IF newest IS NOT NULL THEN
            ordine := t;
            last_event := newest;
            RETURN NEXT;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
END $$;
REVOKE ALL ON FUNCTION app.events_latest() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.events_latest() TO patrocinio_app;

-- The Ordini whose daily protocol register is missing for a day up to `up_to` (the day after
-- its latest register, or the day in Rome of its first registration, is not later): the
-- ten-minute job produces registers only when there is one, ids only.
CREATE FUNCTION app.protocol_registers_due(up_to date) RETURNS SETOF uuid
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.tenant_id', true);
    t uuid;
    pending date;
BEGIN
    FOR t IN SELECT id FROM app.tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        SELECT coalesce(
                   (SELECT max(r.day) + 1 FROM app.protocol_daily_registers r),
                   (SELECT (min(p.registered_at) AT TIME ZONE 'Europe/Rome')::date
                      FROM app.protocol_entries p))
          INTO pending;
        IF pending IS NOT NULL AND pending <= up_to THEN
            RETURN NEXT t;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
END $$;
REVOKE ALL ON FUNCTION app.protocol_registers_due(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.protocol_registers_due(date) TO patrocinio_app;

-- The Ordini with an admission waiting for the Agenzia delle Entrate's batch (signed, not in
-- a batch yet): only they can have a batch to close, ids only.
CREATE FUNCTION app.tax_batches_waiting() RETURNS SETOF uuid
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.tenant_id', true);
    t uuid;
BEGIN
    FOR t IN SELECT id FROM app.tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        IF EXISTS (
            SELECT 1 FROM app.transmissions tr JOIN app.decisions d ON d.id = tr.decision_id
             WHERE tr.recipient_kind = 'agenzia_entrate' AND tr.state = 'da_trasmettere'
               AND tr.batch_id IS NULL AND d.outcome = 'ammissione') THEN
            RETURN NEXT t;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
END $$;
REVOKE ALL ON FUNCTION app.tax_batches_waiting() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.tax_batches_waiting() TO patrocinio_app;
