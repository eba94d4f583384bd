-- Registry extracts (visure anagrafiche, issue 19: VIS-1 … VIS-11).
--
-- The organisations that ask for them (the registry office, the comune's other offices, the
-- bodies under a convention), each request with its criterion, subject, type, purpose and how
-- it was answered, and the protocol counters: one per comune and year, advanced in the same
-- transaction that issues an extract, so that the numbers have no gaps (a rolled-back issue
-- takes no number).
CREATE TABLE extract_orgs (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,          -- the scope of its users' role grants (h501-polizia-municipale)
    comune TEXT NOT NULL,               -- Belfiore code of the comune it belongs to or has a convention with
    name TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- registry, municipal_office, external_body
    convention_from TEXT,               -- ISO date: an external body's convention, from
    convention_to TEXT,                 -- and until (inclusive)
    types TEXT NOT NULL,                -- the extract types it may ask for, comma-separated
    created_at BIGINT NOT NULL
);
CREATE INDEX extract_orgs_comune ON extract_orgs (comune, id);

CREATE TABLE extract_requests (
    id INTEGER PRIMARY KEY,
    comune TEXT NOT NULL,               -- the comune whose register answers (the organisation's)
    org_id BIGINT NOT NULL REFERENCES extract_orgs (id),
    requester TEXT NOT NULL,            -- operator username
    requester_name TEXT NOT NULL,
    public_security BOOLEAN NOT NULL,   -- a STANDARDPS user's: kept out of monitoring (VIS-2)
    bulk_id BIGINT,                     -- the first request of a bulk list, for every one of the list
    criterion_kind TEXT NOT NULL,       -- cf, carta_identita, passaporto, permesso_soggiorno, nome
    criterion TEXT NOT NULL,            -- the criterion in words
    person_id BIGINT,                   -- the subject found
    subject TEXT,                       -- the subject's codice fiscale, for the archive
    subject_aire BOOLEAN,               -- the subject was in an AIRE when asked about
    extract_type TEXT NOT NULL,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,                -- pending, issued, rejected, comune_only
    answer_comune TEXT,                 -- the comune named in the answer
    reason TEXT,                        -- why no extract (a reason key)
    requested_at BIGINT NOT NULL,
    decided_at BIGINT,
    mediator TEXT,                      -- operator username, or system:silence
    approval TEXT,                      -- by_mediator, by_silence
    note TEXT,
    protocol_year INTEGER,
    protocol_number BIGINT,
    content TEXT,                       -- the extract's data as issued (JSON)
    content_hash TEXT                   -- SHA-256 of content
);
CREATE UNIQUE INDEX extract_requests_protocol ON extract_requests (comune, protocol_year, protocol_number);
CREATE INDEX extract_requests_state ON extract_requests (comune, state, id);
CREATE INDEX extract_requests_requester ON extract_requests (requester, id);
CREATE INDEX extract_requests_org ON extract_requests (org_id, id);
CREATE INDEX extract_requests_person ON extract_requests (person_id, requested_at);
CREATE INDEX extract_requests_time ON extract_requests (comune, requested_at);

CREATE TABLE extract_protocols (
    comune TEXT NOT NULL,
    year INTEGER NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (comune, year)
);
