-- Certificates (CRT-4, CRT-6, VER-1…4, issue 5). The sealed PDF is kept for its validity
-- (six months) and then deleted by the expiry job; the row stays, so that verification can say
-- the certificate existed and has expired or been deleted.
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,                -- printed number
    token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 (hex) of the QR code's unguessable token
    person_id BIGINT NOT NULL REFERENCES persons (id),
    types TEXT NOT NULL,                -- tab. 13 codes, comma-separated (several: contestuale)
    langs TEXT NOT NULL,                -- it, or it plus the second language (it,de)
    issued_at BIGINT NOT NULL,          -- epoch ms
    expires_on DATE NOT NULL,           -- last day of validity
    requester TEXT NOT NULL,            -- actor (citizen:CF, operator:name)
    stamp TEXT NOT NULL,                -- JSON: paid (payment id) or exempt (tab. 39 code, description)
    sha256 TEXT NOT NULL,               -- of the sealed PDF
    size BIGINT NOT NULL,
    pdf BYTEA,                          -- NULL once deleted
    deleted_at BIGINT,
    delete_reason TEXT                  -- expired, revoked
);
-- A sealed PDF is already compressed: store it out of line without trying to compress it again.
ALTER TABLE certificates ALTER COLUMN pdf SET STORAGE EXTERNAL;
CREATE INDEX certificates_person ON certificates (person_id, issued_at);
CREATE INDEX certificates_expiry ON certificates (expires_on) WHERE pdf IS NOT NULL;

-- Stamp duty paid through the payment interface (in the embedded mode, recorded locally).
-- A payment pays for one certificate: certificate_id is set when it is used.
CREATE TABLE stamp_payments (
    id TEXT PRIMARY KEY,
    payer TEXT NOT NULL,                -- actor who paid
    amount_cents BIGINT NOT NULL,
    provider TEXT NOT NULL,             -- local, or the payment platform
    paid_at BIGINT NOT NULL,
    certificate_id TEXT UNIQUE REFERENCES certificates (id)
);

-- Verification page captchas: single use, expiring; only hashes are kept.
CREATE TABLE captchas (
    id_hash TEXT PRIMARY KEY,
    answer_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
