-- Accounts, roles, login sessions and the audit log.

-- People who log in to an Ordine's reserved areas. One account per person and Ordine; the
-- roles say what they may do (a person may hold several).
CREATE TABLE app.users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES app.tenants (id),
    email           text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    full_name       text NOT NULL CHECK (length(full_name) BETWEEN 2 AND 200),
    codice_fiscale  text,
    -- argon2id PHC string; NULL until the account is activated.
    password_hash   text,
    -- base32 TOTP secret; NULL until the second factor is set up.
    totp_secret     text,
    -- The last TOTP time step accepted: a code is never accepted twice (RFC 6238 §5.2).
    totp_last_step  bigint NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'invitato'
                    CHECK (status IN ('invitato', 'attivo', 'disabilitato')),
    -- Bumped to end every session of the account at once (disable, password change).
    session_epoch   integer NOT NULL DEFAULT 0,
    lawyer_id       uuid REFERENCES app.lawyers (id),
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email)
);
CREATE UNIQUE INDEX users_lawyer ON app.users (tenant_id, lawyer_id) WHERE lawyer_id IS NOT NULL;
CALL app.protect_tenant_table('app.users');
GRANT SELECT, INSERT, UPDATE ON app.users TO patrocinio_app;

CREATE TABLE app.user_roles (
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    user_id     uuid NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('segreteria', 'consigliere', 'avvocato', 'amministratore')),
    PRIMARY KEY (user_id, role)
);
CALL app.protect_tenant_table('app.user_roles');
GRANT SELECT, INSERT, DELETE ON app.user_roles TO patrocinio_app;

-- One-time recovery codes for a lost second factor (stored hashed).
CREATE TABLE app.recovery_codes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    user_id     uuid NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    used_at     timestamptz,
    UNIQUE (user_id, code_hash)
);
CALL app.protect_tenant_table('app.recovery_codes');
GRANT SELECT, INSERT, UPDATE, DELETE ON app.recovery_codes TO patrocinio_app;

-- Single-use links: account activation and password reset (stored hashed, with an expiry).
CREATE TABLE app.account_tokens (
    token_hash  bytea PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES app.tenants (id),
    user_id     uuid NOT NULL REFERENCES app.users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('attivazione', 'reimpostazione')),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CALL app.protect_tenant_table('app.account_tokens');
GRANT SELECT, INSERT, UPDATE ON app.account_tokens TO patrocinio_app;

-- Login sessions (tower-sessions' PostgreSQL store). Looked up by a random id before any
-- tenant is known, so they live outside the tenant schema (in `sessions`, made by the
-- provisioning); the data holds only ids.
CREATE TABLE sessions.session (
    id          text PRIMARY KEY NOT NULL,
    data        bytea NOT NULL,
    expiry_date timestamptz NOT NULL
);
CREATE INDEX session_expiry ON sessions.session (expiry_date);
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions.session TO patrocinio_app;

-- The audit log: append-only (the service may only INSERT and read) and hash-chained per
-- Ordine: each row stores the hash of the previous one, so that a changed or removed row
-- breaks the chain (`patrocinio audit verify`).
CREATE TABLE app.audit_log (
    tenant_id     uuid NOT NULL REFERENCES app.tenants (id),
    seq           bigint NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_id      uuid,
    actor         text NOT NULL,
    action        text NOT NULL,
    target_kind   text,
    target_id     text,
    outcome       text NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'negato', 'errore')),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CALL app.protect_tenant_table('app.audit_log');
GRANT SELECT, INSERT ON app.audit_log TO patrocinio_app;

-- The canonical text of a row that its hash covers (the verifier recomputes it).
CREATE FUNCTION app.audit_canonical(r app.audit_log) RETURNS bytea
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT convert_to(concat_ws(E'\x1f',
        r.tenant_id::text, r.seq::text, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        coalesce(r.actor_id::text, ''), r.actor, r.action, coalesce(r.target_kind, ''),
        coalesce(r.target_id, ''), r.outcome, r.details::text, encode(r.prev_hash, 'hex')), 'UTF8')
    $$;

-- Numbers and chains each new row. Rows of one Ordine are serialised by an advisory lock held
-- until the inserting transaction ends.
CREATE FUNCTION app.audit_chain() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    last app.audit_log;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || NEW.tenant_id::text, 0));
    SELECT * INTO last FROM app.audit_log
     WHERE tenant_id = NEW.tenant_id ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(last.seq, 0) + 1;
    NEW.prev_hash := coalesce(last.hash, '\x00'::bytea);
    NEW.at := coalesce(NEW.at, now());
    NEW.hash := sha256(app.audit_canonical(NEW));
    RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON app.audit_log
    FOR EACH ROW EXECUTE FUNCTION app.audit_chain();

-- Not even the owner may change history.
CREATE FUNCTION app.audit_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'il registro di audit non si modifica' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_immutable BEFORE UPDATE OR DELETE ON app.audit_log
    FOR EACH ROW EXECUTE FUNCTION app.audit_immutable();
