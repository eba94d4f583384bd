-- Identity documents recorded, renewed and ended by the registry office (REG-1, issue 19): a
-- document that stops being valid before its expiry keeps its row, with the day it ended, why
-- (renewed, lost, stolen, damaged, withdrawn) and the event that recorded it. The record as of a
-- date shows the documents not ended by then; the history shows them all.
ALTER TABLE person_documents ADD COLUMN ended_on DATE;
ALTER TABLE person_documents ADD COLUMN end_reason TEXT;
ALTER TABLE person_documents ADD COLUMN end_event_id BIGINT;
