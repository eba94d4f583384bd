-- Registry operations through the comune web services (issue 3): what the operations leave
-- beside the events and the history tables.

-- Successive codici fiscali of one person (IDN-6 cases 1-3): the new code linked to the previous.
CREATE TABLE cf_links (
    person_id INTEGER NOT NULL REFERENCES persons (id),
    event_id INTEGER NOT NULL,
    previous_cf TEXT NOT NULL,
    new_cf TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, event_id)
);

-- Communications the register sends to the Revenue Agency (an external system): kept here in
-- commit order; the Agency's gateway reads them through the API.
CREATE TABLE revenue_outbox (
    id INTEGER PRIMARY KEY,              -- from counter 'outbox', in commit order
    kind TEXT NOT NULL,                 -- attribuzione_cf, variazione_dati, omocodia
    person_id INTEGER NOT NULL REFERENCES persons (id),
    event_id INTEGER NOT NULL,
    payload TEXT NOT NULL,              -- JSON
    created_at INTEGER NOT NULL
);

-- Per-comune notifications (REG-5), in commit order: a feed cursor never skips one.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,              -- from counter 'notification'
    comune TEXT NOT NULL,               -- Belfiore code of the comune notified
    kind TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    payload TEXT NOT NULL,              -- JSON
    created_at INTEGER NOT NULL
);
CREATE INDEX notifications_comune ON notifications (comune, id);

-- Duplicate records of one person (IDN-6 case 5).
CREATE TABLE duplicate_cases (
    id INTEGER PRIMARY KEY,              -- from counter 'duplicate'
    person_a INTEGER NOT NULL REFERENCES persons (id),
    person_b INTEGER NOT NULL REFERENCES persons (id),
    reported_event INTEGER NOT NULL,
    resolved_event INTEGER,
    deleted_person INTEGER
);

-- Different persons with one codice fiscale (IDN-6 case 6): both keep their ID; the case is
-- communicated to the Agency for the person flagged.
CREATE TABLE omocodia_cases (
    person_id INTEGER NOT NULL REFERENCES persons (id),
    other_person_id INTEGER NOT NULL REFERENCES persons (id),
    codice_fiscale TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, other_person_id)
);

-- Idempotent writes (REG-5): a client's operation id and the first answer given to it.
CREATE TABLE client_operations (
    actor TEXT NOT NULL,
    client_op_id TEXT NOT NULL,
    body_sha256 TEXT,                   -- NULL when the answer is deliberately not kept (adoption of a minor)
    operation TEXT NOT NULL,
    response TEXT,                      -- JSON of the first answer
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (actor, client_op_id)
);

-- Clients of the web services (a comune's software, the Revenue Agency's gateway) and the
-- public key their requests are signed with (ModI INTEGRITY_REST_02).
CREATE TABLE api_clients (
    client_id TEXT PRIMARY KEY,         -- also the JWS "kid"
    role TEXT NOT NULL,                 -- comune, revenue_agency
    comune TEXT,                        -- Belfiore code, for role comune
    public_key_pem TEXT NOT NULL,       -- SPKI PEM (ES256)
    push_url TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Signature ids already accepted, until they expire (replay refusal).
CREATE TABLE seen_jti (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX seen_jti_expiry ON seen_jti (expires_at);

INSERT INTO counters (name, next) VALUES ('outbox', 1), ('notification', 1), ('duplicate', 1);

-- The time of the last audit entry, so that every write gets a strictly later one.
ALTER TABLE audit_head ADD COLUMN last_at_ms INTEGER NOT NULL DEFAULT 0;

-- Delivery of notifications to the comuni that registered a push URL: how far each got, and
-- when to try again after a failure (exponential backoff).
CREATE TABLE push_state (
    client_id TEXT PRIMARY KEY REFERENCES api_clients (client_id),
    delivered_up_to INTEGER NOT NULL,       -- last notification id acknowledged (2xx)
    attempts INTEGER NOT NULL,              -- failures since the last success
    next_attempt_at INTEGER NOT NULL,       -- epoch ms; 0 = now
    last_error TEXT,
    updated_at INTEGER NOT NULL
);

-- The head follows every appended entry in the same statement (one round trip less per write).
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash, last_at_ms = NEW.at_ms WHERE id = 1;
END;
