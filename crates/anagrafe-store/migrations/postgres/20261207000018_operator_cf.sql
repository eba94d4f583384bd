-- Operators carry their codice fiscale (SEC-4, issue 18 item 2): it is written on every trace
-- entry of their actions, so an entry names the natural person, not only the account.
ALTER TABLE operators ADD COLUMN codice_fiscale TEXT;
