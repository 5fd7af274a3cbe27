-- The file is the application (issue 12, point 5). Every application PDF the service
-- generates for a draft is remembered by its SHA-256, with the fingerprint of the answers it
-- was made from: a signed "istanza firmata" is accepted only when what was signed is one of
-- these PDFs, made from the answers the application still has. At most the last 20 per
-- application are kept (store::renditions); they go with their draft.
CREATE TABLE app.application_renditions (
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    application_id  uuid NOT NULL REFERENCES app.applications (id) ON DELETE CASCADE,
    pdf_sha256      text NOT NULL CHECK (pdf_sha256 ~ '^[0-9a-f]{64}$'),
    form_sha256     text NOT NULL CHECK (form_sha256 ~ '^[0-9a-f]{64}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, pdf_sha256)
);
CREATE INDEX application_renditions_pdf ON app.application_renditions (tenant_id, pdf_sha256);
CALL app.protect_tenant_table('app.application_renditions');
GRANT SELECT, INSERT, DELETE ON app.application_renditions TO patrocinio_app;

-- The answers an "istanza firmata" was bound to when it was accepted: changing them afterwards
-- means signing again (checked before submission, rule V29).
ALTER TABLE app.attachments ADD COLUMN form_sha256 text CHECK (form_sha256 ~ '^[0-9a-f]{64}$');
