-- Statistics for the President (issue 14, point 5): the "presidenza" role, and the indexes the
-- statistics' range scans need (each query reads one Ordine's applications of a period).

ALTER TABLE app.user_roles DROP CONSTRAINT user_roles_role_check;
ALTER TABLE app.user_roles ADD CONSTRAINT user_roles_role_check
    CHECK (role IN ('segreteria', 'consigliere', 'avvocato', 'amministratore', 'presidenza'));

-- Filed in a period (intake per month, matters, profile, channel and filer, the yearly return).
CREATE INDEX applications_submitted ON app.applications (tenant_id, submitted_at)
    WHERE submitted_at IS NOT NULL;
-- Decided in a period (decisions per month and quarter, time to decision, workload).
CREATE INDEX applications_decided ON app.applications (tenant_id, decided_at)
    WHERE decided_at IS NOT NULL;
-- The integration pauses of one application, and the requests of a period.
CREATE INDEX integration_requests_application ON app.integration_requests (application_id, requested_at);
CREATE INDEX integration_requests_requested ON app.integration_requests (tenant_id, requested_at);
-- Transmissions of a period, revocations of a period.
CREATE INDEX transmissions_created ON app.transmissions (tenant_id, created_at);
CREATE INDEX events_revocations ON app.events (tenant_id, at) WHERE kind = 'revocata';

-- The applicant's profile as columns the database derives from the form when it is written, so
-- that counting twenty thousand applications does not decompress twenty thousand forms. Birth
-- dates are kept as the form has them (`YYYY-MM-DD` or `DD/MM/YYYY`) and read without a cast a
-- malformed one would break: YYYYMMDD as an integer (age = (filed − born) / 10000).
ALTER TABLE app.applications
    ADD COLUMN applicant_citizenship text
        GENERATED ALWAYS AS (form->'applicant'->>'citizenship') STORED,
    ADD COLUMN applicant_is_entity boolean
        GENERATED ALWAYS AS (coalesce(form->'applicant'->>'kind', '') = 'ente') STORED,
    ADD COLUMN applicant_birth_ymd integer GENERATED ALWAYS AS (
        CASE
          WHEN form->'applicant'->>'birth_date' ~ '^\d{4}-\d{2}-\d{2}$' THEN
              substr(form->'applicant'->>'birth_date', 1, 4)::integer * 10000
            + substr(form->'applicant'->>'birth_date', 6, 2)::integer * 100
            + substr(form->'applicant'->>'birth_date', 9, 2)::integer
          WHEN form->'applicant'->>'birth_date' ~ '^\d{2}[/.-]\d{2}[/.-]\d{4}$' THEN
              substr(form->'applicant'->>'birth_date', 7, 4)::integer * 10000
            + substr(form->'applicant'->>'birth_date', 4, 2)::integer * 100
            + substr(form->'applicant'->>'birth_date', 1, 2)::integer
        END) STORED,
    ADD COLUMN household_size integer GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(form->'household'->'members') = 'array'
             THEN 1 + jsonb_array_length(form->'household'->'members') ELSE 1 END) STORED;
