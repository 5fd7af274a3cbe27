-- PEC receipts (issue 13, point 6; RFC 6109, DM 2 novembre 2005): the service reads the
-- Ordine's PEC mailbox over IMAP, keeps every receipt it recognises as evidence (the .eml in
-- the file storage, its SHA-256 here), matches it to the message sent by the Message-ID the
-- receipt refers to, and moves the recipient's transmission on (accettata, consegnata,
-- mancata consegna with its reason). A receipt whose Message-ID is none of ours is kept aside.

-- Why a transmission was not delivered (the provider's words, bounded), and when the last
-- receipt moved it.
ALTER TABLE app.transmissions
    ADD COLUMN failure_reason text CHECK (failure_reason IS NULL OR length(failure_reason) <= 1000),
    ADD COLUMN receipt_at timestamptz;

-- Receipts are matched by the Message-ID of the message sent.
CREATE INDEX outbox_message_id ON app.outbox (tenant_id, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE app.pec_receipts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    -- The receipt's own Message-ID: reading the same receipt twice changes nothing.
    message_id      text NOT NULL CHECK (length(message_id) BETWEEN 3 AND 998),
    kind            text NOT NULL CHECK (kind IN ('accettazione', 'non-accettazione',
                        'presa-in-carico', 'avvenuta-consegna', 'errore-consegna',
                        'preavviso-errore-consegna', 'rilevazione-virus')),
    -- X-Riferimento-Message-ID (or daticert.xml's msgid): the message it is about.
    refers_to       text CHECK (refers_to IS NULL OR length(refers_to) <= 998),
    -- daticert.xml: the recipient it is about (delivery receipts), the error, the provider's
    -- identifier of the message, the subject as the provider saw it.
    recipient       text CHECK (recipient IS NULL OR length(recipient) <= 320),
    error           text CHECK (error IS NULL OR length(error) <= 1000),
    provider_id     text CHECK (provider_id IS NULL OR length(provider_id) <= 500),
    subject         text CHECK (subject IS NULL OR length(subject) <= 1000),
    -- NULL when the Message-ID is none of ours: the receipt is kept aside and listed.
    outbox_id       bigint REFERENCES app.outbox (id) ON DELETE SET NULL,
    application_id  uuid REFERENCES app.applications (id) ON DELETE SET NULL,
    -- The .eml as read from the mailbox (at most 16 MiB, see src/pec).
    eml_key         text NOT NULL,
    eml_sha256      text NOT NULL CHECK (eml_sha256 ~ '^[0-9a-f]{64}$'),
    eml_size        integer NOT NULL CHECK (eml_size BETWEEN 1 AND 16777216),
    -- IMAP: where it was read.
    uid_validity    bigint NOT NULL,
    uid             bigint NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, message_id)
);
CREATE INDEX pec_receipts_unknown ON app.pec_receipts (tenant_id, received_at DESC)
    WHERE outbox_id IS NULL;
CREATE INDEX pec_receipts_outbox ON app.pec_receipts (outbox_id);
CREATE INDEX pec_receipts_application ON app.pec_receipts (application_id);
CALL app.protect_tenant_table('app.pec_receipts');
GRANT SELECT, INSERT ON app.pec_receipts TO patrocinio_app;

-- How far the Ordine's mailbox was read: new messages are those after `last_uid`, as long as
-- the mailbox keeps its UIDVALIDITY (when it changes, everything is read again: the receipts'
-- own Message-IDs keep that harmless).
CREATE TABLE app.pec_mailboxes (
    tenant_id       uuid PRIMARY KEY REFERENCES app.tenants (id),
    uid_validity    bigint NOT NULL,
    last_uid        bigint NOT NULL CHECK (last_uid >= 0),
    read_at         timestamptz NOT NULL DEFAULT now()
);
CALL app.protect_tenant_table('app.pec_mailboxes');
GRANT SELECT, INSERT, UPDATE ON app.pec_mailboxes TO patrocinio_app;
