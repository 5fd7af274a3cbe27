-- Search (issue 14, point 1): applications are found by names (applicant, household members,
-- opposing party, lawyer) with accents and case ignored, by codice fiscale, code and protocol
-- number. The words and codes of each application are kept beside it by a trigger, indexed.
-- The extensions live in schema `ext` (created by `migrate` as an administrator).

-- Lowercase, accents taken off. IMMUTABLE so that it can be indexed: the unaccent dictionary is
-- named explicitly and does not change while the service runs.
CREATE FUNCTION app.fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(ext.unaccent('ext.unaccent'::regdictionary, coalesce(t, ''))) $$;
GRANT EXECUTE ON FUNCTION app.fold(text) TO patrocinio_app;

ALTER TABLE app.applications
    ADD COLUMN search_words text[] NOT NULL DEFAULT '{}',
    ADD COLUMN search_cfs text[] NOT NULL DEFAULT '{}';

CREATE FUNCTION app.applications_search() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    members jsonb := coalesce(jsonb_path_query_array(NEW.form, 'lax $.household.members[*]'), '[]');
BEGIN
    NEW.search_words := ARRAY(
        SELECT DISTINCT w FROM regexp_split_to_table(app.fold(concat_ws(' ',
            NEW.applicant_name,
            NEW.counterparty_name,
            (SELECT string_agg(concat_ws(' ', m->>'given_name', m->>'surname'), ' ')
               FROM jsonb_array_elements(members) m),
            (SELECT l.surname || ' ' || l.given_name FROM app.lawyers l WHERE l.id = NEW.lawyer_id)
        )), '[^[:alnum:]]+') w
        WHERE w <> '');
    NEW.search_cfs := ARRAY(
        SELECT DISTINCT upper(regexp_replace(c, '\s', '', 'g')) FROM (
            SELECT NEW.applicant_cf AS c
            UNION ALL SELECT m->>'codice_fiscale' FROM jsonb_array_elements(members) m
            UNION ALL SELECT NEW.form #>> '{case,counterparty_cf}'
        ) x WHERE coalesce(c, '') <> '');
    RETURN NEW;
END $$;
CREATE TRIGGER applications_search BEFORE INSERT OR UPDATE ON app.applications
    FOR EACH ROW EXECUTE FUNCTION app.applications_search();
CREATE INDEX applications_search_words ON app.applications USING gin (search_words);
CREATE INDEX applications_search_cfs ON app.applications USING gin (search_cfs);

-- Applications written before: filled in once (the owner passes row-level security for this
-- one statement only).
ALTER TABLE app.applications NO FORCE ROW LEVEL SECURITY;
ALTER TABLE app.lawyers NO FORCE ROW LEVEL SECURITY;
UPDATE app.applications SET search_words = '{}';
ALTER TABLE app.lawyers FORCE ROW LEVEL SECURITY;
ALTER TABLE app.applications FORCE ROW LEVEL SECURITY;
