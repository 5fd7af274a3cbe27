-- The copies of admissions for the Agenzia delle Entrate (art. 127 c.1 D.P.R. 115/2002, issue 13
-- point 5) travel in periodic batches (distinte): one PEC with a cover list (PDF/A and CSV) and
-- the signed delibere, registered in the outgoing protocol in the transaction that queues it.

-- The Ordine's choices: how often a batch leaves, to which PEC address, with which columns.
-- No row: monthly, every column, no address (nothing leaves until one is set).
CREATE TABLE app.tax_agency_settings (
    tenant_id   uuid PRIMARY KEY REFERENCES app.tenants (id),
    frequency   text NOT NULL DEFAULT 'mensile'
                    CHECK (frequency IN ('giornaliera', 'settimanale', 'mensile')),
    pec         text CHECK (pec IS NULL OR length(pec) BETWEEN 6 AND 254),
    columns     text[] NOT NULL
                    CHECK (cardinality(columns) BETWEEN 1 AND 10
                           AND columns <@ ARRAY['delibera', 'protocollo', 'richiedente',
                               'codice_fiscale', 'nascita', 'residenza', 'familiari',
                               'reddito', 'procedimento', 'avvocato']),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CALL app.protect_tenant_table('app.tax_agency_settings');
GRANT SELECT, INSERT, UPDATE ON app.tax_agency_settings TO patrocinio_app;

-- One batch as it left: immutable once written. A period's scheduled batch is one (in parts
-- when it is larger than one PEC may carry); a batch sent early by the secretariat is apart.
CREATE TABLE app.tax_batches (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES app.tenants (id),
    year              integer NOT NULL,
    number            integer NOT NULL CHECK (number > 0),
    -- `2026-12-01` (daily), `2026-W49` (weekly), `2026-12` (monthly): the period closed.
    period_key        text NOT NULL CHECK (length(period_key) BETWEEN 4 AND 16),
    period_label      text NOT NULL,
    part              integer NOT NULL DEFAULT 1 CHECK (part BETWEEN 1 AND 1000),
    early             boolean NOT NULL DEFAULT false,
    pec               text NOT NULL,
    items             integer NOT NULL CHECK (items BETWEEN 1 AND 1000),
    attachments_bytes bigint NOT NULL CHECK (attachments_bytes > 0),
    columns           text[] NOT NULL,
    cover_pdf_key     text NOT NULL,
    cover_pdf_sha256  text NOT NULL CHECK (cover_pdf_sha256 ~ '^[0-9a-f]{64}$'),
    cover_csv_key     text NOT NULL,
    cover_csv_sha256  text NOT NULL CHECK (cover_csv_sha256 ~ '^[0-9a-f]{64}$'),
    protocol_entry_id uuid NOT NULL REFERENCES app.protocol_entries (id),
    outbox_id         bigint REFERENCES app.outbox (id) ON DELETE SET NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, year, number),
    -- the target of the transmissions' composite key below (same Ordine)
    UNIQUE (id, tenant_id)
);
-- The schedule closes a period once, whichever instance gets there first.
CREATE UNIQUE INDEX tax_batches_one_per_period ON app.tax_batches (tenant_id, period_key, part)
    WHERE NOT early;
CREATE INDEX tax_batches_recent ON app.tax_batches (tenant_id, created_at DESC);
CALL app.protect_tenant_table('app.tax_batches');
GRANT SELECT, INSERT ON app.tax_batches TO patrocinio_app;

CREATE FUNCTION app.tax_batches_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'una distinta trasmessa non si modifica né si cancella'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER tax_batches_no_update BEFORE UPDATE OR DELETE ON app.tax_batches
    FOR EACH ROW EXECUTE FUNCTION app.tax_batches_immutable();

-- A batch holds only admissions, enforced by keys rather than by a trigger: a transmission in
-- a batch carries `batch_outcome`, which can only be 'ammissione' (CHECK on the row) and must
-- be its delibera's adopted outcome (composite foreign key to decisions (id, outcome)). A
-- rejection's row therefore cannot enter a batch whatever the code does, and the foreign key
-- (NO ACTION) also refuses to change the outcome of a delibera whose copy is in a batch. Unlike
-- a trigger reading another table, a foreign key takes the lock that makes it hold under
-- concurrent transactions too.
ALTER TABLE app.decisions ADD CONSTRAINT decisions_id_outcome UNIQUE (id, outcome);
ALTER TABLE app.transmissions
    ADD COLUMN batch_outcome text CHECK (batch_outcome = 'ammissione'),
    ADD CONSTRAINT transmissions_batch_only_admissions
        FOREIGN KEY (decision_id, batch_outcome) REFERENCES app.decisions (id, outcome),
    ADD CONSTRAINT transmissions_batch_same_ordine
        FOREIGN KEY (batch_id, tenant_id) REFERENCES app.tax_batches (id, tenant_id),
    ADD CONSTRAINT transmissions_batch_outcome_set
        CHECK ((batch_id IS NULL) = (batch_outcome IS NULL)),
    ADD CONSTRAINT transmissions_batch_to_the_agency
        CHECK (batch_id IS NULL OR recipient_kind = 'agenzia_entrate');
CREATE INDEX transmissions_batch ON app.transmissions (batch_id) WHERE batch_id IS NOT NULL;

-- The batch's PEC goes to the Agenzia delle Entrate.
ALTER TABLE app.outbox DROP CONSTRAINT outbox_recipient_kind_check;
ALTER TABLE app.outbox ADD CONSTRAINT outbox_recipient_kind_check
    CHECK (recipient_kind IN ('avvocato', 'richiedente', 'utente', 'ufficio_giudiziario',
                              'agenzia_entrate'));

-- The batch's outgoing protocol entry is of its own kind.
ALTER TABLE app.protocol_entries DROP CONSTRAINT protocol_entries_kind_check;
ALTER TABLE app.protocol_entries ADD CONSTRAINT protocol_entries_kind_check
    CHECK (kind IN ('istanza', 'integrazione', 'delibera', 'rinuncia', 'annullamento',
                    'distinta'));
