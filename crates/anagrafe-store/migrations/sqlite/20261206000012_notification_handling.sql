-- The registry office's handling of its notifications (REG-5): who marked one handled, and when.
-- The notifications themselves stay as written (the web services' feed reads them unchanged);
-- a marking is never undone, and the trace keeps it.
CREATE TABLE notification_handling (
    notification_id BIGINT PRIMARY KEY REFERENCES notifications (id),
    comune TEXT NOT NULL,
    handled_by TEXT NOT NULL,           -- the operator's name as shown on the pages
    handled_at BIGINT NOT NULL          -- epoch ms
);
CREATE INDEX notification_handling_comune ON notification_handling (comune, notification_id);
