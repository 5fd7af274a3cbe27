-- Council sessions that are real (issue 13, point 1): a session starts at a time (Rome), its
-- decisions are recorded only from then on, with the councillors present, who presided and who
-- acted as secretary; its minutes (verbale) are a generated PDF kept with the session.
ALTER TABLE app.council_sessions
    ADD COLUMN starts_at time NOT NULL DEFAULT '09:00',
    ADD COLUMN president_id uuid REFERENCES app.users (id),
    ADD COLUMN secretary_id uuid REFERENCES app.users (id),
    ADD COLUMN quorum integer,
    ADD COLUMN recorded_at timestamptz,
    ADD COLUMN recorded_by uuid REFERENCES app.users (id),
    ADD COLUMN minutes_key text,
    ADD COLUMN minutes_sha256 text,
    ADD CONSTRAINT council_sessions_recorded CHECK (
        (recorded_at IS NULL) = (president_id IS NULL AND secretary_id IS NULL)
    );

-- Who was present: written once, when the decisions are recorded.
CREATE TABLE app.council_attendance (
    session_id  uuid NOT NULL REFERENCES app.council_sessions (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    user_id     uuid NOT NULL REFERENCES app.users (id),
    PRIMARY KEY (session_id, user_id)
);
CALL app.protect_tenant_table('app.council_attendance');
GRANT SELECT, INSERT ON app.council_attendance TO patrocinio_app;
