-- The security officer's alerts (SEC-5, issue 18 items 3 and 4): what the log analysis found,
-- one alert per rule and key (an actor, a person, a purpose) while it lasts, with its state,
-- who has it in hand, and every step taken on it with a note.
CREATE TABLE security_alerts (
    id BIGSERIAL PRIMARY KEY,
    rule TEXT NOT NULL,                 -- the rule's id (many-persons, off-hours…)
    key TEXT NOT NULL,                  -- what it found: an actor, a person's code, a purpose
    count BIGINT NOT NULL,              -- the highest count seen in the rule's window
    first_seen BIGINT NOT NULL,         -- epoch ms the analysis first found it
    last_seen BIGINT NOT NULL,          -- epoch ms it last found it
    state TEXT NOT NULL,                -- open, acknowledged, closed
    assignee TEXT,                      -- the operator who has it in hand
    closed_at BIGINT                    -- epoch ms of the last closing
);
CREATE INDEX security_alerts_rule_key ON security_alerts (rule, key, id);
CREATE INDEX security_alerts_state ON security_alerts (state, id);

CREATE TABLE security_alert_steps (
    id BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES security_alerts (id),
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,                -- operator:NAME, or system:analysis when raised
    state TEXT NOT NULL,                -- the state after the step
    assignee TEXT,
    note TEXT NOT NULL
);
CREATE INDEX security_alert_steps_alert ON security_alert_steps (alert_id, id);

-- The steps are the alert's history: kept as written.
CREATE FUNCTION security_alert_steps_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert steps are append-only: % on security_alert_steps is refused', TG_OP;
END
$$;

CREATE TRIGGER security_alert_steps_no_change BEFORE UPDATE OR DELETE ON security_alert_steps
    FOR EACH ROW EXECUTE FUNCTION security_alert_steps_append_only();
