-- The lawyers an import of the register disabled because they were not in the file, with the
-- accounts it disabled with them: what «Ripristina» on the import's report puts back. A row is
-- restorable while nothing has changed the lawyer since (lawyers.updated_at is not later than
-- deactivated_at, which the import's transaction sets to the same now()).
CREATE TABLE app.register_deactivations (
    tenant_id        uuid NOT NULL REFERENCES app.tenants (id),
    import_id        uuid NOT NULL REFERENCES app.register_imports (id),
    lawyer_id        uuid NOT NULL REFERENCES app.lawyers (id),
    -- The status the lawyer had before the import cancelled them.
    previous_status  text NOT NULL CHECK (previous_status IN ('attivo', 'sospeso')),
    -- The accounts the import disabled (they were active): only these are re-enabled.
    accounts         uuid[] NOT NULL DEFAULT '{}',
    deactivated_at   timestamptz NOT NULL DEFAULT now(),
    restored_at      timestamptz,
    restored_by      uuid REFERENCES app.users (id),
    PRIMARY KEY (import_id, lawyer_id)
);
CREATE INDEX register_deactivations_lawyer ON app.register_deactivations (tenant_id, lawyer_id);
CALL app.protect_tenant_table('app.register_deactivations');
GRANT SELECT, INSERT, UPDATE ON app.register_deactivations TO patrocinio_app;
