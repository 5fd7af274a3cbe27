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
