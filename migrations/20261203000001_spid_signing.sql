-- Signing an application by identification (issue 12, point 7; art. 65, c. 1, lett. b, CAD):
-- the identity assertion of the applicant identified with SPID or CIE at level 2 or higher,
-- as the service verified it. One per application (a new identification replaces the old);
-- it signs the answers whose fingerprint it carries, so changing them asks for a new one
-- (rule V26). It goes with its draft.
CREATE TABLE app.application_identifications (
    tenant_id        uuid NOT NULL REFERENCES app.tenants (id),
    application_id   uuid PRIMARY KEY REFERENCES app.applications (id) ON DELETE CASCADE,
    -- The identity provider (its OpenID Connect issuer) and the person's subject there.
    issuer           text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    subject          text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    -- The `acr` of the ID token and the SPID level it means (2 or 3).
    acr              text NOT NULL CHECK (length(acr) BETWEEN 1 AND 200),
    level            smallint NOT NULL CHECK (level BETWEEN 2 AND 3),
    -- When the person authenticated at the provider (`auth_time`, else the ID token's `iat`).
    authenticated_at timestamptz NOT NULL,
    -- SHA-256 (hex) of the ID token as received: the assertion itself can be matched later.
    id_token_sha256  text NOT NULL CHECK (id_token_sha256 ~ '^[0-9a-f]{64}$'),
    codice_fiscale   text NOT NULL CHECK (length(codice_fiscale) = 16),
    -- The answers signed (Form::fingerprint).
    form_sha256      text NOT NULL CHECK (form_sha256 ~ '^[0-9a-f]{64}$'),
    signed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX application_identifications_tenant ON app.application_identifications (tenant_id);
CALL app.protect_tenant_table('app.application_identifications');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.application_identifications TO patrocinio_app;
