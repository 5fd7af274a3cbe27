-- The ten days of art. 126 stand still while an integration request waits for its answer,
-- unless the Ordine's settings say they keep running (`clock_runs_during_integration`).
-- Days are counted in Rome time; a request still open counts up to today. SECURITY INVOKER:
-- the caller's row-level security applies.
CREATE FUNCTION app.clock_suspension(application uuid,
    OUT suspended_days integer, OUT suspended_now boolean)
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(sum(greatest(0,
               (coalesce(ir.answered_at, now()) AT TIME ZONE 'Europe/Rome')::date
             - (ir.requested_at AT TIME ZONE 'Europe/Rome')::date)), 0)::integer,
           coalesce(bool_or(ir.answered_at IS NULL), false)
      FROM app.integration_requests ir
      JOIN app.tenants t ON t.id = ir.tenant_id
     WHERE ir.application_id = application
       AND NOT coalesce((t.settings->>'clock_runs_during_integration')::boolean, false)
$$;
GRANT EXECUTE ON FUNCTION app.clock_suspension(uuid) TO patrocinio_app;
