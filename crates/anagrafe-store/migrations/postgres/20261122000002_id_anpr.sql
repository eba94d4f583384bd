-- ID ANPR registry (IDN-2): every ID ever issued, bound immutably to its person, never reused.
-- A person's ID is the row with status 1 or 2; a person without any row has none yet.
CREATE TABLE id_anpr_registry (
    id_anpr TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES persons (id),
    counter BIGINT,                     -- generator input (the ID is FF1_K(counter)); NULL for IDs issued elsewhere
    key_version SMALLINT NOT NULL,      -- which generator key (0: issued elsewhere)
    status SMALLINT NOT NULL,           -- 1 valid, 2 suspended (duplicate records under review), 3 invalid for ever
    issued_at BIGINT NOT NULL,          -- epoch ms
    changed_at BIGINT NOT NULL,
    UNIQUE (key_version, counter)
);
CREATE INDEX id_anpr_registry_person ON id_anpr_registry (person_id);
INSERT INTO counters (name, next) VALUES ('id_anpr', 0);
