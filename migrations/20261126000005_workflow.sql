-- The case workflow (domain.md §9): the protocol, the life of an application after submission,
-- integration requests, council sessions, decisions (delibere), and the event and outbox rows
-- every transition writes in its own transaction.

ALTER TABLE app.applications DROP CONSTRAINT applications_state_check;
ALTER TABLE app.applications ADD CONSTRAINT applications_state_check CHECK (state IN (
    'bozza', 'presentata', 'protocollata', 'in_istruttoria', 'integrazione_richiesta',
    'proposta_ammissione', 'proposta_rigetto', 'proposta_inammissibile', 'iscritta_adunanza',
    'ammessa', 'respinta', 'inammissibile', 'rinunciata', 'revocata'));

-- Gapless numbering per Ordine, kind and calendar year: a row updated in the registering
-- transaction (a rollback gives the number back), never a sequence.
CREATE TABLE app.counters (
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    kind        text NOT NULL CHECK (kind IN ('protocollo', 'delibera')),
    year        integer NOT NULL CHECK (year BETWEEN 2000 AND 2999),
    last_number integer NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (tenant_id, kind, year)
);
CALL app.protect_tenant_table('app.counters');
GRANT SELECT, INSERT, UPDATE ON app.counters TO patrocinio_app;

-- The protocol register. Entries are never changed or removed: a cancellation is a new entry
-- pointing at the original.
CREATE TABLE app.protocol_entries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    year            integer NOT NULL,
    number          integer NOT NULL CHECK (number > 0),
    registered_at   timestamptz NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('entrata', 'uscita', 'interno')),
    kind            text NOT NULL
                    CHECK (kind IN ('istanza', 'integrazione', 'delibera', 'rinuncia', 'annullamento')),
    channel         text NOT NULL CHECK (channel IN ('portale', 'sportello', 'posta', 'pec', 'interno')),
    application_id  uuid REFERENCES app.applications (id),
    subject         text NOT NULL,
    -- The filed documents: [{"name", "kind", "sha256"}], and one SHA-256 over them all.
    documents       jsonb NOT NULL DEFAULT '[]'::jsonb,
    documents_sha256 text NOT NULL CHECK (documents_sha256 ~ '^[0-9a-f]{64}$'),
    cancels         uuid REFERENCES app.protocol_entries (id),
    reason          text,
    registered_by   uuid REFERENCES app.users (id),
    registered_by_label text NOT NULL,
    UNIQUE (tenant_id, year, number),
    CHECK ((kind = 'annullamento') = (cancels IS NOT NULL)),
    CHECK (kind <> 'annullamento' OR length(reason) >= 5)
);
CREATE UNIQUE INDEX protocol_entries_cancelled_once ON app.protocol_entries (cancels)
    WHERE cancels IS NOT NULL;
CREATE INDEX protocol_entries_application ON app.protocol_entries (application_id);
CALL app.protect_tenant_table('app.protocol_entries');
GRANT SELECT, INSERT ON app.protocol_entries TO patrocinio_app;

CREATE FUNCTION app.protocol_entries_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'le registrazioni di protocollo non si modificano né si cancellano: si annullano con una nuova registrazione'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER protocol_entries_no_update BEFORE UPDATE OR DELETE ON app.protocol_entries
    FOR EACH ROW EXECUTE FUNCTION app.protocol_entries_immutable();
CREATE TRIGGER protocol_entries_no_truncate BEFORE TRUNCATE ON app.protocol_entries
    FOR EACH STATEMENT EXECUTE FUNCTION app.protocol_entries_immutable();

-- Council sessions (adunanze), when the Ordine decides in sessions.
CREATE TABLE app.council_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    held_on     date NOT NULL,
    state       text NOT NULL DEFAULT 'convocata' CHECK (state IN ('convocata', 'chiusa')),
    -- The councillor who signs the session's delibere (the President or the Secretary).
    signer_id   uuid REFERENCES app.users (id),
    closed_at   timestamptz,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, held_on)
);
CALL app.protect_tenant_table('app.council_sessions');
GRANT SELECT, INSERT, UPDATE ON app.council_sessions TO patrocinio_app;

ALTER TABLE app.applications
    ADD COLUMN protocol_entry_id uuid REFERENCES app.protocol_entries (id),
    ADD COLUMN protocol_year integer,
    ADD COLUMN protocol_number integer,
    ADD COLUMN protocol_at timestamptz,
    ADD COLUMN urgent boolean NOT NULL DEFAULT false,
    ADD COLUMN urgent_reason text,
    ADD COLUMN next_hearing date,
    ADD COLUMN rapporteur_id uuid REFERENCES app.users (id),
    ADD COLUMN assigned_at timestamptz,
    ADD COLUMN council_session_id uuid REFERENCES app.council_sessions (id),
    -- The account that filed it: a lawyer logged in, or the secretariat keying in a paper one.
    ADD COLUMN filed_by_user uuid REFERENCES app.users (id),
    ADD COLUMN decided_at timestamptz;
CREATE INDEX applications_rapporteur ON app.applications (tenant_id, rapporteur_id, state);
CREATE INDEX applications_duplicates ON app.applications (tenant_id, applicant_cf, rg_number);

-- What happened to an application: one row per transition or recorded fact, written in the
-- transaction that made it. The live pipeline listens for them (NOTIFY at commit).
CREATE TABLE app.events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    from_state      text,
    to_state        text,
    actor_id        uuid,
    actor_label     text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    -- Shown in the history: codes, numbers, reasons typed by staff.
    details         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_application ON app.events (application_id, id);
CALL app.protect_tenant_table('app.events');
GRANT SELECT, INSERT ON app.events TO patrocinio_app;

CREATE FUNCTION app.events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('patrocinio_eventi',
        json_build_object('tenant', NEW.tenant_id, 'id', NEW.id, 'application', NEW.application_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON app.events
    FOR EACH ROW EXECUTE FUNCTION app.events_notify();

-- E-mails to send, written with the event that causes them (the notifications issue sends).
CREATE TABLE app.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    event_id        bigint NOT NULL REFERENCES app.events (id) ON DELETE CASCADE,
    recipient       text NOT NULL,
    template        text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX outbox_pending ON app.outbox (next_attempt_at) WHERE sent_at IS NULL;
CALL app.protect_tenant_table('app.outbox');
GRANT SELECT, INSERT, UPDATE ON app.outbox TO patrocinio_app;

-- Requests for missing documents or clarifications (art. 79 c.3).
CREATE TABLE app.integration_requests (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    requested_by    uuid NOT NULL REFERENCES app.users (id),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    due_on          date NOT NULL,
    -- Attachment kinds asked for, and free-text questions.
    kinds           text[] NOT NULL DEFAULT '{}',
    questions       text[] NOT NULL DEFAULT '{}',
    note            text NOT NULL DEFAULT '',
    -- The attachments present when the request was made (to show what changed).
    attachments_before uuid[] NOT NULL DEFAULT '{}',
    answered_at     timestamptz,
    answered_by     text,
    answers         text[] NOT NULL DEFAULT '{}',
    CHECK (cardinality(kinds) + cardinality(questions) > 0)
);
CREATE UNIQUE INDEX integration_requests_one_open ON app.integration_requests (application_id)
    WHERE answered_at IS NULL;
CALL app.protect_tenant_table('app.integration_requests');
GRANT SELECT, INSERT, UPDATE ON app.integration_requests TO patrocinio_app;

ALTER TABLE app.attachments
    ADD COLUMN integration_request_id uuid REFERENCES app.integration_requests (id);

-- The rapporteur's proposal and the decision (delibera), with its number, PDF and signature.
CREATE TABLE app.decisions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    proposed_outcome text NOT NULL CHECK (proposed_outcome IN ('ammissione', 'rigetto', 'inammissibilita')),
    proposed_by     uuid NOT NULL REFERENCES app.users (id),
    proposed_at     timestamptz NOT NULL DEFAULT now(),
    reasons         text NOT NULL,
    council_session_id uuid REFERENCES app.council_sessions (id),
    -- Set when adopted (by the Council, or by the rapporteur when sessions are off).
    outcome         text CHECK (outcome IN ('ammissione', 'rigetto', 'inammissibilita')),
    adopted_at      timestamptz,
    year            integer,
    number          integer,
    pdf_key         text,
    pdf_sha256      text,
    -- Who must sign, and the signed file once verified.
    signer_id       uuid REFERENCES app.users (id),
    signed_key      text,
    signed_kind     text CHECK (signed_kind IN ('cades', 'pades', 'sigillo')),
    signed_at       timestamptz,
    signature       jsonb,
    -- Superseded proposals (sent back, postponed) stay for the history.
    superseded_at   timestamptz,
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, year, number),
    CHECK ((outcome IS NULL) = (number IS NULL))
);
CREATE UNIQUE INDEX decisions_one_current ON app.decisions (application_id)
    WHERE superseded_at IS NULL;
CREATE INDEX decisions_unsigned ON app.decisions (tenant_id, signer_id)
    WHERE number IS NOT NULL AND signed_at IS NULL;
CALL app.protect_tenant_table('app.decisions');
GRANT SELECT, INSERT, UPDATE ON app.decisions TO patrocinio_app;
