-- Listings without a filter read newest first in rowid order, and --since
-- and prune find the rowid where a created_at begins (store.newestFirst,
-- store.rowidFrom), instead of keeping an index on created_at alone: each
-- one cost an index insert for every event and delivery emitted. That
-- needs created_at never to decrease in rowid order, which EmitEvents and
-- Copy now keep; make it so for the rows stored before. A row whose
-- created_at is below an earlier row's (a clock stepped back, or an emit
-- that waited for the write lock while another committed) takes that
-- earlier row's created_at.
UPDATE events SET created_at = m.created_at
FROM (SELECT rowid AS r, max(created_at) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) AS created_at FROM events) AS m
WHERE events.rowid = m.r AND events.created_at < m.created_at;

UPDATE deliveries SET created_at = m.created_at
FROM (SELECT rowid AS r, max(created_at) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) AS created_at FROM deliveries) AS m
WHERE deliveries.rowid = m.r AND deliveries.created_at < m.created_at;

DROP INDEX events_created_at;
DROP INDEX deliveries_created_at;
