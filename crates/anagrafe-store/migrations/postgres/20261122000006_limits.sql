-- Protection (SEC-2, issue 6): request counters per key and fixed window, shared by every
-- instance, and addresses blocked for a while after repeated failures or limit breaches.
CREATE TABLE rate_counters (
    key TEXT PRIMARY KEY,               -- e.g. auth:addr:192.0.2.7, login:account:a.rossi
    window_start BIGINT NOT NULL,       -- epoch ms, start of the current window
    count BIGINT NOT NULL
);

CREATE TABLE blocked_addresses (
    address TEXT PRIMARY KEY,
    until BIGINT NOT NULL,              -- epoch ms
    reason TEXT NOT NULL,
    blocked_at BIGINT NOT NULL
);
