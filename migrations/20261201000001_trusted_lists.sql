-- Trusted lists (ETSI TS 119 612): the EU List of Trusted Lists (LOTL) and the national lists
-- it points to, with every trust service they name and its status history. Platform-wide: they
-- hold no Ordine's data, so there is no tenant_id.
--
-- Row-level security is enabled and forced like everywhere else, with two policies: every
-- reader may read (a signature of any Ordine is checked against the same lists), and only the
-- owner role writes. The service role patrocinio_app gets SELECT alone, so a compromised web
-- process cannot add a CA to the lists; `patrocinio fiducia importa` writes as
-- patrocinio_owner through the administrator's connection.

-- One list in force per territory ('EU' for the LOTL, 'IT', ...): an import replaces it whole.
CREATE TABLE app.trusted_lists (
    id              uuid PRIMARY KEY,
    territory       text NOT NULL CHECK (territory ~ '^[A-Z]{2}$'),
    is_lotl         boolean NOT NULL,
    tsl_type        text NOT NULL,
    sequence_number bigint NOT NULL,
    issued_at       timestamptz NOT NULL,
    next_update     timestamptz,
    source          text NOT NULL,
    sha256          text NOT NULL,
    -- SHA-256 of the certificate whose key verified the list's XML signature.
    signer_sha256   text NOT NULL,
    xml             bytea NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (territory, is_lotl)
);

-- The LOTL's pointers: where each national list is and which certificates may sign it.
CREATE TABLE app.trusted_list_pointers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id      uuid NOT NULL REFERENCES app.trusted_lists(id) ON DELETE CASCADE,
    territory    text NOT NULL,
    tsl_type     text NOT NULL,
    location     text NOT NULL,
    certificates bytea[] NOT NULL
);
CREATE INDEX trusted_list_pointers_territory ON app.trusted_list_pointers (territory);

CREATE TABLE app.trust_services (
    id        uuid PRIMARY KEY,
    list_id   uuid NOT NULL REFERENCES app.trusted_lists(id) ON DELETE CASCADE,
    territory text NOT NULL,
    provider  text NOT NULL,
    name      text NOT NULL
);
CREATE INDEX trust_services_list ON app.trust_services (list_id);

-- The certificates of a service's digital identity, found by subject (the issuer name of the
-- certificates it issued) or by subject key identifier.
CREATE TABLE app.trust_service_certificates (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id     uuid NOT NULL REFERENCES app.trust_services(id) ON DELETE CASCADE,
    certificate    bytea NOT NULL,
    subject_sha256 text NOT NULL,
    ski            text
);
CREATE INDEX trust_service_certificates_subject ON app.trust_service_certificates (subject_sha256);
CREATE INDEX trust_service_certificates_ski ON app.trust_service_certificates (ski);

-- The status history: the current status and every ServiceHistoryInstance, each from its
-- starting time until the next one starts. Validation looks up the status at the signing time.
CREATE TABLE app.trust_service_statuses (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id   uuid NOT NULL REFERENCES app.trust_services(id) ON DELETE CASCADE,
    starts_at    timestamptz NOT NULL,
    service_type text NOT NULL,
    status       text NOT NULL,
    -- [{"uri": "...QCWithQSCD", "policies": ["1.3.76..."], "all": true}, ...]
    qualifiers   jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- AdditionalServiceInformation URIs (ForeSignatures, ForeSeals, ...).
    additional   text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX trust_service_statuses_service ON app.trust_service_statuses (service_id, starts_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['trusted_lists', 'trusted_list_pointers', 'trust_services',
                             'trust_service_certificates', 'trust_service_statuses'] LOOP
        EXECUTE format('ALTER TABLE app.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE app.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON app.%I FOR SELECT USING (true)', t || '_read', t);
        EXECUTE format('CREATE POLICY %I ON app.%I FOR ALL TO patrocinio_owner USING (true) WITH CHECK (true)',
                       t || '_owner_writes', t);
        EXECUTE format('GRANT SELECT ON app.%I TO patrocinio_app', t);
    END LOOP;
END $$;
