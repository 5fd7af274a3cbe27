-- The Ordini (tenants). Every table lives in the schema `app`, owned by patrocinio_owner, with
-- row-level security enabled and forced; the service role patrocinio_app gets only the grants
-- each table needs.

CREATE TABLE app.tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE
                CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 3 AND 200),
    pec         text,
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE app.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.tenants FORCE ROW LEVEL SECURITY;

-- Names and slugs of the Ordini are public (the platform's home page lists them).
CREATE POLICY tenants_select ON app.tenants FOR SELECT USING (true);
-- A tenant row is written only by a transaction bound to that tenant.
CREATE POLICY tenants_insert ON app.tenants FOR INSERT
    WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenants_update ON app.tenants FOR UPDATE
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE ON app.tenants TO patrocinio_app;
