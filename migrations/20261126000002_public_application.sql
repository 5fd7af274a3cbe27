-- The public online application (istanza on-line): the Ordine's competence map, its legal-aid
-- list of lawyers, and applications from the first draft to submission.

-- The tenant of the current transaction (set by Db::tenant_tx with set_config(..., true)).
-- After COMMIT the setting reads '' rather than NULL: NULLIF makes it NULL, matching nothing.
CREATE FUNCTION app.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- Row-level security for a table with a tenant_id column: enabled, forced (the owner is subject
-- too), one policy for every command.
CREATE PROCEDURE app.protect_tenant_table(tbl regclass)
    LANGUAGE plpgsql
    AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = (SELECT app.current_tenant())) '
        'WITH CHECK (tenant_id = (SELECT app.current_tenant()))', tbl);
END $$;
REVOKE ALL ON PROCEDURE app.protect_tenant_table(regclass) FROM PUBLIC;

-- Judicial offices in the Ordine's competence (art. 124 D.P.R. 115/2002).
CREATE TABLE app.judicial_offices (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 3 AND 200),
    active      boolean NOT NULL DEFAULT true,
    position    integer NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name)
);
CALL app.protect_tenant_table('app.judicial_offices');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.judicial_offices TO patrocinio_app;

-- Lawyers of the Ordine with the matters of the legal-aid list (art. 81) they are listed for.
CREATE TABLE app.lawyers (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES app.tenants (id),
    surname           text NOT NULL,
    given_name        text NOT NULL,
    codice_fiscale    text NOT NULL,
    register_number   text,
    pec               text,
    email             text,
    status            text NOT NULL DEFAULT 'attivo'
                      CHECK (status IN ('attivo', 'sospeso', 'cancellato')),
    legal_aid_matters text[] NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, codice_fiscale)
);
CREATE INDEX lawyers_surname ON app.lawyers (tenant_id, lower(surname), lower(given_name));
CALL app.protect_tenant_table('app.lawyers');
GRANT SELECT, INSERT, UPDATE ON app.lawyers TO patrocinio_app;

-- One row per application, from the first draft on. `form` keeps what the user typed, valid or
-- not (nothing typed is ever lost); the columns beside it are derived from it for lists,
-- search and duplicate checks.
CREATE TABLE app.applications (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES app.tenants (id),
    code                text NOT NULL,
    pin_hash            text NOT NULL,
    pin_failures        integer NOT NULL DEFAULT 0,
    pin_locked_until    timestamptz,
    state               text NOT NULL DEFAULT 'bozza' CHECK (state IN ('bozza', 'presentata')),
    channel             text NOT NULL DEFAULT 'portale'
                        CHECK (channel IN ('portale', 'sportello', 'posta', 'pec')),
    form                jsonb NOT NULL DEFAULT '{}'::jsonb,
    matter              text,
    filed_by            text,
    applicant_name      text,
    applicant_cf        text,
    counterparty_name   text,
    rg_number           text,
    judicial_office_id  uuid REFERENCES app.judicial_offices (id),
    lawyer_id           uuid REFERENCES app.lawyers (id),
    applicant_email     text,
    income_total_cents  bigint,
    threshold_cents     bigint,
    submitted_at        timestamptz,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, code)
);
CREATE INDEX applications_state ON app.applications (tenant_id, state, submitted_at);
CREATE INDEX applications_applicant ON app.applications (tenant_id, applicant_cf);
CREATE INDEX applications_stale_drafts ON app.applications (updated_at) WHERE state = 'bozza';
CALL app.protect_tenant_table('app.applications');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.applications TO patrocinio_app;

-- Devices that may continue a draft without typing code and PIN again: the cookie holds a
-- random token, the table its SHA-256.
CREATE TABLE app.draft_access (
    token_hash      bytea PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX draft_access_application ON app.draft_access (application_id);
CALL app.protect_tenant_table('app.draft_access');
GRANT SELECT, INSERT, DELETE ON app.draft_access TO patrocinio_app;

-- One-time tokens carried by the submission form: a retried or concurrent POST with the same
-- token finds it used and is shown the same receipt.
CREATE TABLE app.form_tokens (
    token           uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    used_at         timestamptz
);
CREATE INDEX form_tokens_application ON app.form_tokens (application_id);
CALL app.protect_tenant_table('app.form_tokens');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.form_tokens TO patrocinio_app;

-- Files attached to an application: the bytes in object storage, the facts here.
CREATE TABLE app.attachments (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    filename        text NOT NULL,
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes > 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key     text NOT NULL UNIQUE,
    signature       jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_application ON app.attachments (application_id, created_at);
CALL app.protect_tenant_table('app.attachments');
GRANT SELECT, INSERT, DELETE ON app.attachments TO patrocinio_app;
