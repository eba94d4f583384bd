-- PostgreSQL moves the audit head once per statement from this version on (see its migration
-- 0009). SQLite has row triggers only, and updating a row in place costs it little: its trigger
-- stays as it is. (This file keeps the two backends' migration versions equal.)
SELECT 1;
