-- After the decision (issue 13, points 2, 3, 4, 7): what leaves the Ordine is registered in the
-- protocol as outgoing ("uscita"), with its recipients, in the transaction that queues it; each
-- transmission of a delibera is one row per recipient with its state. Point 5 (the Agenzia
-- delle Entrate's batches) adds a batch to the rows waiting for it; point 6 (PEC receipts)
-- moves the state on to accettata / consegnata / mancata consegna.

-- Each judicial office's PEC address, where the copy of an admission goes (art. 126 c.2).
ALTER TABLE app.judicial_offices
    ADD COLUMN pec text CHECK (pec IS NULL OR length(pec) BETWEEN 6 AND 254);

-- The recipients of an outgoing entry: [{"kind", "name", "address"}]. Entries stay immutable
-- (adding a column with a constant default rewrites no row and fires no trigger).
ALTER TABLE app.protocol_entries
    ADD COLUMN recipients jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE app.protocol_entries DROP CONSTRAINT protocol_entries_channel_check;
ALTER TABLE app.protocol_entries ADD CONSTRAINT protocol_entries_channel_check
    CHECK (channel IN ('portale', 'sportello', 'posta', 'pec', 'email', 'interno'));
ALTER TABLE app.protocol_entries ADD CONSTRAINT protocol_entries_outgoing_recipients
    CHECK (direction <> 'uscita' OR jsonb_array_length(recipients) > 0);

-- Messages to a judicial office (by PEC, from the Ordine's PEC).
ALTER TABLE app.outbox DROP CONSTRAINT outbox_recipient_kind_check;
ALTER TABLE app.outbox ADD CONSTRAINT outbox_recipient_kind_check
    CHECK (recipient_kind IN ('avvocato', 'richiedente', 'utente', 'ufficio_giudiziario'));

CREATE TABLE app.transmissions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    decision_id     uuid NOT NULL REFERENCES app.decisions (id) ON DELETE CASCADE,
    recipient_kind  text NOT NULL CHECK (recipient_kind IN
                        ('richiedente', 'avvocato', 'ufficio_giudiziario', 'agenzia_entrate')),
    recipient_name  text NOT NULL,
    address         text,
    via_pec         boolean NOT NULL DEFAULT false,
    office_id       uuid REFERENCES app.judicial_offices (id),
    -- Set when it leaves: its outgoing protocol entry, its message, the SHA-256 of the file sent.
    protocol_entry_id uuid REFERENCES app.protocol_entries (id),
    outbox_id       bigint REFERENCES app.outbox (id) ON DELETE SET NULL,
    document_sha256 text CHECK (document_sha256 ~ '^[0-9a-f]{64}$'),
    -- A periodic batch (the Agenzia delle Entrate's, point 5).
    batch_id        uuid,
    state           text NOT NULL CHECK (state IN ('da_trasmettere', 'in_coda', 'accettata',
                        'consegnata', 'mancata_consegna', 'consegnata_al_richiedente')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (decision_id, recipient_kind),
    CHECK ((state IN ('da_trasmettere', 'consegnata_al_richiedente'))
           = (protocol_entry_id IS NULL))
);
CREATE INDEX transmissions_waiting ON app.transmissions (tenant_id, recipient_kind, created_at)
    WHERE state = 'da_trasmettere';
CREATE INDEX transmissions_application ON app.transmissions (application_id);
CALL app.protect_tenant_table('app.transmissions');
GRANT SELECT, INSERT, UPDATE ON app.transmissions TO patrocinio_app;
