-- The identity an account was first matched with at its Ordine's OpenID Connect provider: the
-- provider's issuer and its subject identifier (`sub`). Later logins through that provider find
-- the account by (issuer, sub), whatever e-mail the provider then gives; a different subject
-- presenting the e-mail of an account already bound is refused. One binding per account and
-- issuer (an Ordine that changes provider starts afresh).
CREATE TABLE app.oidc_subjects (
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    user_id     uuid NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    issuer      text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2000),
    -- OpenID Connect Core §2: at most 255 ASCII characters.
    subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    bound_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, issuer, subject),
    UNIQUE (user_id, issuer)
);
CALL app.protect_tenant_table('app.oidc_subjects');
GRANT SELECT, INSERT, DELETE ON app.oidc_subjects TO patrocinio_app;
