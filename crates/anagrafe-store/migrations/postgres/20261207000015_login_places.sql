-- The addresses an operator has logged in from (SEC-2, issue 18 item 7): a lock that failures
-- from elsewhere put on the account does not stop the operator at a place already known, so an
-- attacker cannot lock an officer out by failing on purpose.
CREATE TABLE operator_login_places (
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    last_ok_at BIGINT NOT NULL,         -- epoch ms of the last successful login from there
    PRIMARY KEY (username, address)
);
