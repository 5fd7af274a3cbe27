-- The daily protocol register (registro giornaliero di protocollo, DPR 445/2000 art. 53 and
-- AgID guidelines): one PDF/A per Ordine and day, produced after midnight (Rome) for the day
-- before, kept with its SHA-256 and, when the Ordine seals, its sealed copy. Never changed
-- nor removed.
CREATE TABLE app.protocol_daily_registers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES app.tenants (id),
    day           date NOT NULL,
    entries       integer NOT NULL CHECK (entries >= 0),
    -- The first and last numbers of the day (none on a day without registrations).
    first_number  text,
    last_number   text,
    pdf_key       text NOT NULL,
    pdf_sha256    text NOT NULL CHECK (pdf_sha256 ~ '^[0-9a-f]{64}$'),
    -- The CAdES envelope made with the Ordine's seal, when it has one.
    sealed_key    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, day)
);
CALL app.protect_tenant_table('app.protocol_daily_registers');
GRANT SELECT, INSERT ON app.protocol_daily_registers TO patrocinio_app;

CREATE FUNCTION app.protocol_daily_registers_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'il registro giornaliero di protocollo non si modifica né si cancella'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER protocol_daily_registers_no_update BEFORE UPDATE OR DELETE
    ON app.protocol_daily_registers
    FOR EACH ROW EXECUTE FUNCTION app.protocol_daily_registers_immutable();
CREATE TRIGGER protocol_daily_registers_no_truncate BEFORE TRUNCATE
    ON app.protocol_daily_registers
    FOR EACH STATEMENT EXECUTE FUNCTION app.protocol_daily_registers_immutable();

CREATE INDEX protocol_entries_registered_at ON app.protocol_entries (tenant_id, registered_at);
