-- The sweeper of orphan files asks, a batch of keys at a time, whether any row names each
-- stored object (storage::sweep, store::files::referenced): one index lookup per key and
-- column. attachments.storage_key is already UNIQUE (indexed).
CREATE INDEX decisions_pdf_key ON app.decisions (pdf_key) WHERE pdf_key IS NOT NULL;
CREATE INDEX decisions_signed_key ON app.decisions (signed_key) WHERE signed_key IS NOT NULL;
CREATE INDEX council_sessions_minutes_key ON app.council_sessions (minutes_key)
    WHERE minutes_key IS NOT NULL;
CREATE INDEX protocol_daily_registers_pdf_key ON app.protocol_daily_registers (pdf_key);
CREATE INDEX protocol_daily_registers_sealed_key ON app.protocol_daily_registers (sealed_key)
    WHERE sealed_key IS NOT NULL;
CREATE INDEX tax_batches_cover_pdf_key ON app.tax_batches (cover_pdf_key);
CREATE INDEX tax_batches_cover_csv_key ON app.tax_batches (cover_csv_key);
CREATE INDEX pec_receipts_eml_key ON app.pec_receipts (eml_key);
