-- The audit log in words (issue 14, point 6): a target id that is a UUID is read as one, to
-- name the application or the person it is about; anything else is no UUID (NULL).
CREATE FUNCTION app.as_uuid(t text) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN t ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                      THEN t::uuid END $$;
GRANT EXECUTE ON FUNCTION app.as_uuid(text) TO patrocinio_app;
CREATE INDEX audit_log_target ON app.audit_log (tenant_id, target_kind, target_id);
