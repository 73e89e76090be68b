-- The claim reads due deliveries in due order first, so that its cost
-- follows its size rather than the number of webhooks (claimPostgres).
CREATE INDEX deliveries_due_at ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
