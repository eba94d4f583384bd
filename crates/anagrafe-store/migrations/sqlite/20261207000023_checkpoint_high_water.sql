-- The ID generator's high-water mark signed in each checkpoint (issue 18 item 0, IDN-2): a copy
-- of the mark that a rewrite of the database cannot lower, since the signature covers it. Null in
-- checkpoints signed before (their message is version 1) and in registers that keep no mark.
ALTER TABLE audit_checkpoints ADD COLUMN id_high_water INTEGER;
