-- Identity and access (issue 6): operators with password and second factor, their roles and
-- competence, and server-side sessions shared by every instance of the register.

-- An operator account. The password is an argon2id PHC string; the TOTP secret (base32) is set
-- when enrolment is confirmed, and the last accepted time step refuses a code used twice.
CREATE TABLE operators (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT false,
    totp_secret TEXT,                   -- confirmed second factor, NULL until enrolled
    totp_pending TEXT,                  -- secret offered at enrolment, not yet confirmed
    totp_last_step BIGINT,              -- last accepted 30-second step
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT,                -- epoch ms: no login before (back-off after failures)
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Roles as data: a role, where it applies (a comune's Belfiore code for comune roles, a public
-- body's code for public-body users, '' for national roles) and the mediator function.
CREATE TABLE operator_roles (
    username TEXT NOT NULL REFERENCES operators (username),
    role TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    mediator BOOLEAN NOT NULL DEFAULT false,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (username, role, scope)
);

-- Server-side sessions. Only the SHA-256 of the cookie's token is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- operator | citizen
    subject TEXT NOT NULL,              -- operator username, or the citizen's codice fiscale
    auth_mode TEXT NOT NULL,            -- password, password+totp, oidc:<provider>
    loa INTEGER NOT NULL DEFAULT 0,     -- level of assurance reached (0 none, 1 low, 2 significant, 3 high)
    second_factor BOOLEAN NOT NULL DEFAULT false,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,   -- last (re-)authentication, for sensitive actions
    expires_at BIGINT NOT NULL,         -- absolute expiry
    ended_at BIGINT                     -- logout
);
CREATE INDEX sessions_subject ON sessions (kind, subject);
