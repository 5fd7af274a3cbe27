-- Signature results are recomputed when the trusted lists change (`patrocinio fiducia
-- riverifica`): the service may rewrite an attachment's verification result, and nothing else
-- of it.
GRANT UPDATE (signature) ON app.attachments TO patrocinio_app;
