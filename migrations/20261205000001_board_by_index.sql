-- The board and the search read by index (issue 14, performance). Two costs measured with
-- 20,000 applications per Ordine (README, "loadtest board"):
--
-- 1. The deadline order called app.clock_suspension() for every open application before the
--    sort and its LIMIT. The days the clock stood still are now kept on the application,
--    written by triggers in the transaction that records an integration request, its answer,
--    or a change of the Ordine's setting, and the deadline (filing + stopped days) is a stored
--    column under an index in the board's order.
-- 2. The searches by name and by codice fiscale tested every application of the Ordine. The
--    words and codes are now keys of their own, read by index; the words of a query are first
--    matched in the Ordine's lexicon of distinct words (prefix, or one letter apart).

-- Seconds since the epoch: IMMUTABLE (extract() is only STABLE as a whole, because other
-- fields depend on the time zone; the epoch of an instant does not).
CREATE FUNCTION app.epoch(t timestamptz) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT extract(epoch FROM t) $$;
GRANT EXECUTE ON FUNCTION app.epoch(timestamptz) TO patrocinio_app;

-- clock_stopped_days: the days of the requests already answered; clock_stopped_since: the day
-- the request still waiting was made (the clock stands still from then until today). Both stay
-- 0 and NULL when the Ordine's settings say the clock keeps running.
ALTER TABLE app.applications
    ADD COLUMN clock_stopped_days integer NOT NULL DEFAULT 0 CHECK (clock_stopped_days >= 0),
    ADD COLUMN clock_stopped_since date,
    ADD COLUMN deadline_key numeric GENERATED ALWAYS AS
        (coalesce(app.epoch(submitted_at), 0) + clock_stopped_days * 86400) STORED;

-- Recomputes the stopped clock of one application (as app.clock_suspension did on every read).
-- SECURITY INVOKER: the caller's row-level security applies.
CREATE FUNCTION app.refresh_clock(application uuid) RETURNS void
    LANGUAGE sql
    AS $$
    UPDATE app.applications a
       SET (clock_stopped_days, clock_stopped_since) = (
           SELECT coalesce(sum(greatest(0,
                      (ir.answered_at AT TIME ZONE 'Europe/Rome')::date
                    - (ir.requested_at AT TIME ZONE 'Europe/Rome')::date))
                      FILTER (WHERE ir.answered_at IS NOT NULL), 0)::integer,
                  min((ir.requested_at AT TIME ZONE 'Europe/Rome')::date)
                      FILTER (WHERE ir.answered_at IS NULL)
             FROM app.integration_requests ir
            WHERE ir.application_id = a.id
              AND NOT coalesce((t.settings->>'clock_runs_during_integration')::boolean, false))
      FROM app.tenants t
     WHERE a.id = application AND t.id = a.tenant_id
$$;

CREATE FUNCTION app.integration_requests_clock() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM app.refresh_clock(CASE WHEN TG_OP = 'DELETE' THEN OLD.application_id
                                   ELSE NEW.application_id END);
    RETURN NULL;
END $$;
CREATE TRIGGER integration_requests_clock
    AFTER INSERT OR DELETE OR UPDATE OF requested_at, answered_at, application_id
    ON app.integration_requests
    FOR EACH ROW EXECUTE FUNCTION app.integration_requests_clock();

CREATE FUNCTION app.tenants_clock() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF coalesce((OLD.settings->>'clock_runs_during_integration')::boolean, false)
       IS DISTINCT FROM coalesce((NEW.settings->>'clock_runs_during_integration')::boolean, false)
    THEN
        PERFORM app.refresh_clock(r.application_id)
           FROM (SELECT DISTINCT application_id FROM app.integration_requests
                  WHERE tenant_id = NEW.id) r;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tenants_clock AFTER UPDATE OF settings ON app.tenants
    FOR EACH ROW EXECUTE FUNCTION app.tenants_clock();

-- The board's order (urgent first, then the deadline) by index; the applications whose clock
-- stands still now (their deadline moves each day) are few and read apart.
CREATE INDEX applications_deadline ON app.applications
    (tenant_id, (NOT urgent), deadline_key, id) WHERE state <> 'bozza';
CREATE INDEX applications_clock_stopped ON app.applications (tenant_id)
    WHERE clock_stopped_since IS NOT NULL;
-- Protocol numbers are looked up without their year too ("13").
CREATE INDEX applications_protocol_number ON app.applications (tenant_id, protocol_number)
    WHERE protocol_number IS NOT NULL;

-- Search keys: each word of the names and each codice fiscale of a submitted application, one
-- row each, found by B-tree equality. (The GIN indexes on the arrays are never used under
-- row-level security: `@>` and `&&` are not leakproof, so PostgreSQL must check the tenant
-- first and then test every row of the Ordine; text equality is leakproof and can use an index.)
CREATE TABLE app.search_keys (
    tenant_id      uuid NOT NULL,
    -- 'n': a word of a name (folded: lower case, no accents); 'cf': a codice fiscale.
    kind           text NOT NULL CHECK (kind IN ('n', 'cf')),
    key            text COLLATE "C" NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    application_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, kind, key, application_id),
    FOREIGN KEY (tenant_id, application_id) REFERENCES app.applications (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX search_keys_application ON app.search_keys (application_id);
CALL app.protect_tenant_table('app.search_keys');
GRANT SELECT, INSERT, DELETE ON app.search_keys TO patrocinio_app;

-- The lexicon: each distinct word of the names of an Ordine's submitted applications, where
-- the words of a query are matched by prefix or within one letter (a scan of a few thousand
-- short words). Words are never taken out: one left behind only matches no key.
CREATE TABLE app.search_lexicon (
    tenant_id uuid NOT NULL REFERENCES app.tenants (id),
    word      text COLLATE "C" NOT NULL CHECK (length(word) BETWEEN 1 AND 200),
    PRIMARY KEY (tenant_id, word)
);
CALL app.protect_tenant_table('app.search_lexicon');
GRANT SELECT, INSERT ON app.search_lexicon TO patrocinio_app;

-- The keys and the lexicon follow the words of a submitted application (drafts have none);
-- a word or code past 200 characters is not a key (no name or codice fiscale has one).
CREATE FUNCTION app.applications_search_keys() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.state = 'bozza' OR (TG_OP = 'UPDATE' AND OLD.state <> 'bozza'
            AND OLD.search_words = NEW.search_words AND OLD.search_cfs = NEW.search_cfs) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM app.search_keys WHERE application_id = NEW.id;
    END IF;
    INSERT INTO app.search_keys (tenant_id, kind, key, application_id)
    SELECT NEW.tenant_id, 'n', w, NEW.id FROM unnest(NEW.search_words) w WHERE length(w) <= 200
    UNION SELECT NEW.tenant_id, 'cf', c, NEW.id FROM unnest(NEW.search_cfs) c WHERE length(c) <= 200;
    INSERT INTO app.search_lexicon (tenant_id, word)
    SELECT tenant_id, key FROM app.search_keys WHERE application_id = NEW.id AND kind = 'n'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER applications_search_keys AFTER INSERT OR UPDATE ON app.applications
    FOR EACH ROW EXECUTE FUNCTION app.applications_search_keys();
DROP INDEX app.applications_search_words;
DROP INDEX app.applications_search_cfs;

-- What was written before: filled in once (the owner passes row-level security for these
-- statements only).
ALTER TABLE app.applications NO FORCE ROW LEVEL SECURITY;
ALTER TABLE app.integration_requests NO FORCE ROW LEVEL SECURITY;
ALTER TABLE app.search_lexicon NO FORCE ROW LEVEL SECURITY;
SELECT app.refresh_clock(r.application_id)
  FROM (SELECT DISTINCT application_id FROM app.integration_requests) r;
ALTER TABLE app.search_keys NO FORCE ROW LEVEL SECURITY;
INSERT INTO app.search_keys (tenant_id, kind, key, application_id)
SELECT tenant_id, 'n', w, id FROM app.applications, unnest(search_words) w
 WHERE state <> 'bozza' AND length(w) <= 200
UNION
SELECT tenant_id, 'cf', c, id FROM app.applications, unnest(search_cfs) c
 WHERE state <> 'bozza' AND length(c) <= 200;
INSERT INTO app.search_lexicon (tenant_id, word)
SELECT DISTINCT tenant_id, key FROM app.search_keys WHERE kind = 'n';
ALTER TABLE app.search_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE app.search_lexicon FORCE ROW LEVEL SECURITY;
ALTER TABLE app.integration_requests FORCE ROW LEVEL SECURITY;
ALTER TABLE app.applications FORCE ROW LEVEL SECURITY;

DROP FUNCTION app.clock_suspension(uuid);
