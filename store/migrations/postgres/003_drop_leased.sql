-- Rescue, NextWake and ExtendLeases find the deliveries in flight (status
-- 'delivering': only those claimed and not yet completed) on
-- deliveries_status_created_at. A separate index on their lease cost an
-- index insert at every claim and a delete at every completion.
DROP INDEX deliveries_leased;
