-- The register's first schema (PostgreSQL). Never edit once applied: add a new migration.
-- Conventions (docs/data-model.md):
--   * history tables carry effective time [valid_from, valid_to) as DATE (valid_to exclusive,
--     NULL = still in force) and transaction time recorded_at / superseded_at as epoch
--     milliseconds (superseded_at set when a correction replaces the row; rows are never deleted);
--   * every row written by a change points to the event that wrote it;
--   * codes are ANPR's official codes (decode tables) or Belfiore codes.

-- Id allocation that works the same on both backends and lets bulk loads reserve blocks.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    next BIGINT NOT NULL
);
INSERT INTO counters (name, next) VALUES ('person', 1), ('family', 1), ('event', 1);

-- Immutable events: the truth. The state tables below are their view.
CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- iscrizione, cancellazione, mutazione, residenza, famiglia, aire, caricamento
    code TEXT,                          -- code of the reason in the ANPR table for that kind
    person_id BIGINT,                   -- subject, when one person
    family_id BIGINT,
    comune TEXT,                        -- Belfiore code of the comune acting
    effective_date DATE NOT NULL,       -- data decorrenza
    recorded_at BIGINT NOT NULL,        -- epoch ms
    request_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    client_op_id TEXT,                  -- client's operation id (idempotency)
    payload TEXT NOT NULL               -- JSON: what the event said
);
CREATE INDEX events_person ON events (person_id);
CREATE INDEX events_comune_recorded ON events (comune, recorded_at);
-- A client's operation id names one write: a second write under it is refused.
CREATE UNIQUE INDEX events_client_op ON events (actor, client_op_id) WHERE client_op_id IS NOT NULL;

-- One row per person: identity of the record and current position. Its ID ANPR lives in
-- id_anpr_registry (next migration), the one place that knows every ID ever issued.
CREATE TABLE persons (
    id BIGINT PRIMARY KEY,              -- internal surrogate key, never shown
    status SMALLINT NOT NULL,           -- 1 resident, 2 AIRE, 3 cancelled, 4 deceased
    comune TEXT NOT NULL,               -- competent comune (residence or AIRE)
    email TEXT,
    digital_domicile TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX persons_comune ON persons (comune);

-- Personal data (generalita) with history: a change of name or codice fiscale adds a row.
CREATE TABLE person_generalita (
    person_id BIGINT NOT NULL REFERENCES persons (id),
    valid_from DATE NOT NULL,
    valid_to DATE,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT,
    event_id BIGINT NOT NULL,
    surname TEXT,                       -- NULL: senza cognome
    given_name TEXT,                    -- NULL: senza nome
    sex TEXT NOT NULL,
    birth_date DATE NOT NULL,           -- first day of the known period
    birth_date_precision TEXT NOT NULL, -- D, M or Y
    birth_place TEXT NOT NULL,          -- Belfiore code valid on the birth date (comune or Z state)
    birth_locality TEXT,                -- locality abroad
    codice_fiscale TEXT,
    cf_validation SMALLINT NOT NULL,    -- tab. 22
    PRIMARY KEY (person_id, valid_from, recorded_at)
);
CREATE INDEX person_generalita_cf ON person_generalita (codice_fiscale);
CREATE INDEX person_generalita_name ON person_generalita (surname, given_name, birth_date);

CREATE TABLE person_residences (
    person_id BIGINT NOT NULL REFERENCES persons (id),
    valid_from DATE NOT NULL,
    valid_to DATE,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT,
    event_id BIGINT NOT NULL,
    abroad BOOLEAN NOT NULL,
    comune TEXT,                        -- Italy: comune of residence; abroad: comune of AIRE
    cap TEXT,
    species TEXT,
    toponym TEXT,
    civic TEXT,
    internal TEXT,
    locality TEXT,
    foreign_state TEXT,
    foreign_locality TEXT,
    foreign_address TEXT,
    foreign_postcode TEXT,
    consulate TEXT,
    PRIMARY KEY (person_id, valid_from, recorded_at)
);

CREATE TABLE person_citizenships (
    person_id BIGINT NOT NULL REFERENCES persons (id),
    country TEXT NOT NULL,              -- ITA or a Z code
    valid_from DATE NOT NULL,
    valid_to DATE,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (person_id, country, valid_from, recorded_at)
);

CREATE TABLE person_civil_status (
    person_id BIGINT NOT NULL REFERENCES persons (id),
    status SMALLINT NOT NULL,           -- tab. 01
    valid_from DATE NOT NULL,
    valid_to DATE,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (person_id, valid_from, recorded_at)
);

-- Families (famiglie anagrafiche) and cohabitations (convivenze).
CREATE TABLE families (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- F family, C cohabitation
    specie SMALLINT,                    -- tab. 27, cohabitations only
    comune TEXT NOT NULL,
    name TEXT,                          -- name of a cohabitation
    formed_on DATE NOT NULL,
    dissolved_on DATE,
    event_id BIGINT NOT NULL
);

CREATE TABLE family_members (
    person_id BIGINT NOT NULL REFERENCES persons (id),
    family_id BIGINT NOT NULL REFERENCES families (id),
    relation SMALLINT NOT NULL,         -- tab. 05 (family) or tab. 06 (cohabitation)
    valid_from DATE NOT NULL,
    valid_to DATE,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (person_id, family_id, valid_from, recorded_at)
);
CREATE INDEX family_members_family ON family_members (family_id);

CREATE TABLE person_documents (
    person_id BIGINT NOT NULL REFERENCES persons (id),
    kind TEXT NOT NULL,                 -- cie, carta_identita_cartacea, passaporto, permesso_soggiorno
    permit_kind SMALLINT,               -- tab. 08 for residence permits
    number TEXT NOT NULL,
    issued_on DATE NOT NULL,
    expires_on DATE,
    issuer TEXT,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (person_id, kind, number)
);
CREATE INDEX person_documents_number ON person_documents (number);

CREATE TABLE person_deaths (
    person_id BIGINT PRIMARY KEY REFERENCES persons (id),
    death_date DATE NOT NULL,
    death_date_precision TEXT NOT NULL,
    place TEXT,
    locality TEXT,
    recorded_at BIGINT NOT NULL,
    event_id BIGINT NOT NULL
);

-- The trace (SEC-4): hash-chained, append-only. audit_head holds the chain head and is the
-- lock that serialises appends.
CREATE TABLE audit_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,              -- date-time to the millisecond
    request_id TEXT NOT NULL,
    actor TEXT NOT NULL,                -- account, client or system component
    actor_cf TEXT,                      -- codice fiscale of the natural person acting
    eidas_id TEXT,                      -- eIDAS unique identifier, when present
    auth_mode TEXT NOT NULL,            -- spid, cie, cns, eidas, password_totp, modi, cli, system
    operation TEXT NOT NULL,
    outcome TEXT NOT NULL,
    subject_person BIGINT,
    subject_cf TEXT,
    detail TEXT NOT NULL,               -- JSON
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_person);

-- Reference data loaded from the official ANPR files (compact form), overriding the embedded copy.
CREATE TABLE refdata (
    name TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    loaded_at BIGINT NOT NULL
);
