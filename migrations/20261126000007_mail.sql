-- The mail worker: each outbox row's state, who it is for, and the Message-ID it was sent with
-- (fixed per row, so a message sent twice after a crash is recognisably the same message).
ALTER TABLE app.outbox
    ADD COLUMN status text NOT NULL DEFAULT 'in_attesa'
        CHECK (status IN ('in_attesa', 'inviato', 'non_recapitabile')),
    -- `avvocato`, `richiedente` or `utente` (an account of the Ordine).
    ADD COLUMN recipient_kind text NOT NULL DEFAULT 'utente'
        CHECK (recipient_kind IN ('avvocato', 'richiedente', 'utente')),
    ADD COLUMN message_id text;
-- Account e-mails (activation and reset links) belong to no application and no event.
ALTER TABLE app.outbox ALTER COLUMN event_id DROP NOT NULL;
UPDATE app.outbox SET status = 'inviato' WHERE sent_at IS NOT NULL;
DROP INDEX app.outbox_pending;
CREATE INDEX outbox_pending ON app.outbox (tenant_id, next_attempt_at, id) WHERE status = 'in_attesa';
-- The application a message is about (none for account e-mails): messages to one recipient
-- about one application go out in order.
ALTER TABLE app.outbox ADD COLUMN application_id uuid REFERENCES app.applications (id) ON DELETE CASCADE;
UPDATE app.outbox o SET application_id = e.application_id FROM app.events e WHERE e.id = o.event_id;
-- Reminders are sent once: two days before an integration deadline, and when the ten-day
-- clock is about to expire.
ALTER TABLE app.integration_requests ADD COLUMN reminded_at timestamptz;
ALTER TABLE app.applications ADD COLUMN clock_reminded_at timestamptz;
-- A councillor's choice for the e-mail of a new assignment: at once, in a morning digest, or
-- never (legal notices have no such choice).
ALTER TABLE app.users ADD COLUMN mail_assignments text NOT NULL DEFAULT 'subito'
    CHECK (mail_assignments IN ('subito', 'riepilogo', 'mai'));
ALTER TABLE app.outbox ADD COLUMN digest boolean NOT NULL DEFAULT false;
-- Sent to a lawyer's PEC (they gave no ordinary e-mail): through the Ordine's PEC provider.
ALTER TABLE app.outbox ADD COLUMN via_pec boolean NOT NULL DEFAULT false;
