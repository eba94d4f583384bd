-- Citizens' requests as cases (issue 20, CIT-9, EU-1, EU-2, EU-4, EU-5).

-- What an EU citizen who logged in through eIDAS declared (EU-2), by the eIDAS unique identifier.
CREATE TABLE eu_profiles (
    eidas_id TEXT PRIMARY KEY,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    declared TEXT,                      -- JSON of anagrafe_domain::eu::Declared, once entered
    email_code_hash TEXT,               -- SHA-256 of the confirmation code sent, while pending
    email_code_expires_at BIGINT,
    email_attempts INTEGER NOT NULL DEFAULT 0,
    validated_at BIGINT,                -- every check passed and the e-mail confirmed
    person_id BIGINT,                   -- the record, once registered
    updated_at BIGINT NOT NULL
);

-- Protocol numbers of the cases, per comune and year.
CREATE TABLE case_protocols (
    comune TEXT NOT NULL,
    year INTEGER NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (comune, year)
);

CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,                 -- anagrafe_domain::case::CaseKind
    comune TEXT NOT NULL,               -- the competent comune
    state TEXT NOT NULL,                -- anagrafe_domain::case::CaseState
    applicant TEXT NOT NULL,            -- the actor who owns it: eidas:ID or citizen:CF
    applicant_name TEXT NOT NULL,
    applicant_email TEXT,
    data TEXT NOT NULL,                 -- JSON of the kind's request
    protocol_year INTEGER,
    protocol_number BIGINT,
    created_at BIGINT NOT NULL,
    submitted_at BIGINT,
    due_on TEXT,                        -- the day the comune must decide by
    decided_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cases_desk ON cases (comune, state, id);
CREATE INDEX cases_applicant ON cases (applicant, id);

CREATE TABLE case_documents (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    evidence TEXT NOT NULL,             -- anagrafe_domain::case::Evidence
    member INTEGER,                     -- whose (index in the request), or none
    filename TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    source TEXT NOT NULL,               -- upload, once_only
    signatures TEXT,                    -- JSON: what the signature check found
    verified BOOLEAN,                   -- the comune's verification
    verified_note TEXT,
    added_at BIGINT NOT NULL
);
CREATE INDEX case_documents_case ON case_documents (case_id, id);

CREATE TABLE case_steps (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,               -- submit, verify_document, start_procedure, accept, …
    detail TEXT NOT NULL,               -- JSON of the action
    note TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    client_op_id TEXT                   -- a web-service client's operation id (idempotency)
);
CREATE INDEX case_steps_case ON case_steps (case_id, id);
CREATE UNIQUE INDEX case_steps_op ON case_steps (case_id, actor, client_op_id);
