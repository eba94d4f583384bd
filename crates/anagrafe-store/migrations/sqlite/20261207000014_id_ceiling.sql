-- IDs never reissued, whatever is restored (IDN-2, issue 18 item 0). The ID generator's
-- position is also kept outside the database, as a high-water mark beside its key that only
-- grows; the database may issue IDs only below that mark. `ceiling` is the mark as the database
-- last knew it (NULL: no mark is kept, as in tests); a counter that would pass it is refused, and
-- the register raises the mark (file first) before it raises the ceiling. A database restored
-- from an older copy starts again from the mark, past every ID that may have been issued since.
ALTER TABLE counters ADD COLUMN ceiling INTEGER;

CREATE TRIGGER counters_below_ceiling BEFORE UPDATE OF next ON counters
WHEN NEW.ceiling IS NOT NULL AND NEW.next > NEW.ceiling
BEGIN
    SELECT RAISE(ABORT, 'id-anpr-ceiling: the ID ANPR reservation is used up');
END;
