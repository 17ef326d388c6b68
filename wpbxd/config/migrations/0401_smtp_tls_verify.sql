-- SMTP profile: whether to verify the server's TLS certificate (off for a
-- self-signed office mail server).
ALTER TABLE smtp_profile ADD COLUMN verify_tls INTEGER NOT NULL DEFAULT 1;
