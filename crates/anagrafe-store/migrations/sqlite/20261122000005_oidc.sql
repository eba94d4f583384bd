-- Citizen login by OpenID Connect (issue 6): a login in progress, from the redirect to the
-- identity provider until its answer comes back. Single use; only a hash of the state is kept.
CREATE TABLE oidc_flows (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
