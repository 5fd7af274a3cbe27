-- The provider's S/MIME signature of a receipt as found when it was read: 'integra' (the
-- signature matches the content), 'non_integra' (it does not), 'assente' (not a signed
-- message). The provider's certificate is not checked against AgID's list of PEC providers:
-- this says the receipt was not altered after it was signed, not who signed it.
ALTER TABLE app.pec_receipts
    ADD COLUMN signature text NOT NULL DEFAULT 'assente'
        CHECK (signature IN ('integra', 'non_integra', 'assente'));
