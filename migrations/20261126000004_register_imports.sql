-- Imports of the register of lawyers (Albo): the uploaded file is kept until it is applied, so
-- that the preview and the import read the same bytes; the report stays as a record.
CREATE TABLE app.register_imports (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES app.tenants (id),
    filename      text NOT NULL,
    content       bytea NOT NULL,
    uploaded_by   uuid REFERENCES app.users (id),
    status        text NOT NULL DEFAULT 'anteprima'
                  CHECK (status IN ('anteprima', 'in_corso', 'applicata', 'errore')),
    total         integer NOT NULL DEFAULT 0,
    processed     integer NOT NULL DEFAULT 0,
    report        jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    applied_at    timestamptz
);
CREATE INDEX register_imports_recent ON app.register_imports (tenant_id, created_at DESC);
CALL app.protect_tenant_table('app.register_imports');
GRANT SELECT, INSERT, UPDATE ON app.register_imports TO patrocinio_app;
