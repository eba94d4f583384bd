-- E-services for public bodies (INT-1, IDN-4, SEC-4, SEC-6; issue 4). A public body is
-- registered as on the national data platform (PDND): its client id, the public keys its
-- client assertions and ModI signatures are made with (by kid), and for each e-service the
-- purpose (purposeId) it is authorised for, with the purpose's call limits.
CREATE TABLE pdnd_clients (
    client_id TEXT PRIMARY KEY,         -- the platform's client id (a UUID there)
    name TEXT NOT NULL,                 -- the public body (e.g. "INPS")
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE pdnd_keys (
    kid TEXT PRIMARY KEY,               -- key id, in the JWS header of every token the body signs
    client_id TEXT NOT NULL REFERENCES pdnd_clients (client_id),
    public_key_pem TEXT NOT NULL,       -- SPKI PEM (ES256)
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX pdnd_keys_client ON pdnd_keys (client_id);

CREATE TABLE pdnd_purposes (
    purpose_id TEXT PRIMARY KEY,        -- the platform's purposeId
    client_id TEXT NOT NULL REFERENCES pdnd_clients (client_id),
    eservice TEXT NOT NULL,             -- e-service code (C030)
    description TEXT NOT NULL,          -- what the body uses it for
    daily_quota BIGINT NOT NULL,        -- calls per day (Italian calendar day)
    per_second BIGINT NOT NULL,         -- calls per second
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX pdnd_purposes_client ON pdnd_purposes (client_id);

-- The first answer given to a body's idOperazioneClient (ANPR: "the body receives the answer
-- ANPR gave before with the same id"). Unique per body across e-services (EN079).
CREATE TABLE pdnd_answers (
    client_id TEXT NOT NULL,
    id_operazione_client TEXT NOT NULL,
    eservice TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,       -- of the request body, to tell a replay from a reuse
    status SMALLINT NOT NULL,           -- HTTP status of the answer
    body TEXT NOT NULL,                 -- the answer as sent
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, id_operazione_client)
);
CREATE INDEX pdnd_answers_created ON pdnd_answers (created_at);

-- Search by personal data (C030 and every e-service's datiNascita criteria) compares names
-- without regard to case.
CREATE INDEX person_generalita_upper_name ON person_generalita (UPPER(surname), birth_date);
