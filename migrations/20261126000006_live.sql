-- The live workspace: who each event is for, the doorbell it rings, and who is looking at
-- which application right now.

-- The people an event concerns, as tags: `segreteria` (the Ordine's secretariat),
-- `utente:<user id>` (a rapporteur, a signer, the account that filed), `avvocato:<lawyer id>`
-- (the chosen lawyer's account), `istanza:<application id>` (the public status page).
ALTER TABLE app.events ADD COLUMN audience text[] NOT NULL DEFAULT '{}';

-- NOTIFY carries the event's id and its Ordine (to read it under row-level security), nothing
-- else: the `events` table is the truth.
CREATE OR REPLACE FUNCTION app.events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('patrocinio_eventi',
        json_build_object('tenant', NEW.tenant_id, 'id', NEW.id)::text);
    RETURN NULL;
END $$;

-- Who has an application's page open: one row per socket, refreshed while it lives.
CREATE TABLE app.presence (
    socket_id       uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    label           text NOT NULL,
    seen_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presence_application ON app.presence (application_id, seen_at);
CALL app.protect_tenant_table('app.presence');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.presence TO patrocinio_app;

CREATE FUNCTION app.presence_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    r app.presence;
BEGIN
    r := COALESCE(NEW, OLD);
    PERFORM pg_notify('patrocinio_presenza',
        json_build_object('tenant', r.tenant_id, 'application', r.application_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER presence_notify AFTER INSERT OR DELETE ON app.presence
    FOR EACH ROW EXECUTE FUNCTION app.presence_notify();
