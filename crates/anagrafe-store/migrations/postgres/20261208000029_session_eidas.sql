-- The eIDAS unique identifier of a session opened through the eIDAS node (issue 20, EU-1,
-- SEC-4): every trace entry of the session carries it, including a citizen session of an EU
-- citizen whose record the register now holds.
ALTER TABLE sessions ADD COLUMN eidas_id TEXT;
