-- Fixes from the independent review (issue 11).

-- A draft's data is bounded where it is stored: the pages refuse longer texts with a message,
-- and this is the last guard (1 MiB of JSON). NOT VALID: rows written before are not rechecked.
ALTER TABLE app.applications
    ADD CONSTRAINT applications_form_size CHECK (octet_length(form::text) <= 1048576) NOT VALID;

-- Presence names its Ordine in both references: a row can only point at an application and an
-- account of the same Ordine.
ALTER TABLE app.applications ADD CONSTRAINT applications_tenant_id_id UNIQUE (tenant_id, id);
ALTER TABLE app.users ADD CONSTRAINT users_tenant_id_id UNIQUE (tenant_id, id);
ALTER TABLE app.presence
    DROP CONSTRAINT presence_application_id_fkey,
    DROP CONSTRAINT presence_user_id_fkey,
    ADD CONSTRAINT presence_application FOREIGN KEY (tenant_id, application_id)
        REFERENCES app.applications (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT presence_user FOREIGN KEY (tenant_id, user_id)
        REFERENCES app.users (tenant_id, id) ON DELETE CASCADE;
