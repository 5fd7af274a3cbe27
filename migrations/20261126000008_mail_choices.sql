-- Each person's choices about the e-mails that are not legal notices: one row per topic they
-- changed from the default ('subito'). Topics: a councillor's new assignments, the
-- secretariat's answered integrations, a lawyer's protocol registrations.
CREATE TABLE app.mail_choices (
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    user_id     uuid NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    topic       text NOT NULL CHECK (topic IN ('assegnazioni', 'integrazioni', 'protocollo')),
    delivery    text NOT NULL CHECK (delivery IN ('subito', 'riepilogo', 'mai')),
    PRIMARY KEY (user_id, topic)
);
CALL app.protect_tenant_table('app.mail_choices');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.mail_choices TO patrocinio_app;
INSERT INTO app.mail_choices (tenant_id, user_id, topic, delivery)
SELECT tenant_id, id, 'assegnazioni', mail_assignments FROM app.users
 WHERE mail_assignments <> 'subito';
ALTER TABLE app.users DROP COLUMN mail_assignments;
