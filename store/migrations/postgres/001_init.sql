-- fgwh schema, version 1, for PostgreSQL. It mirrors migrations/sqlite/001_init.sql
-- column for column so that both stores scan the same values: times are BIGINT unix
-- milliseconds (UTC) and flags are INTEGER 0/1. Identifiers, names and types use the
-- "C" collation so that ORDER BY sorts bytes, as SQLite and Go's sort.Strings do.
-- events and deliveries have a seq column standing in for SQLite's rowid: listings
-- break created_at ties by insertion order (store.newestFirst), and the created_at
-- indexes end with it as SQLite's end with rowid.

CREATE TABLE webhooks (
    id                     TEXT COLLATE "C" PRIMARY KEY,
    name                   TEXT COLLATE "C" NOT NULL CONSTRAINT webhooks_name_key UNIQUE,
    url                    TEXT NOT NULL,
    token                  TEXT NOT NULL,
    -- The token before the last rotation, still signed with until previous_token_expires_at.
    previous_token         TEXT NOT NULL DEFAULT '',
    previous_token_expires_at BIGINT NOT NULL DEFAULT 0,
    signature_scheme       TEXT NOT NULL DEFAULT 'fgwh'
                           CHECK (signature_scheme IN ('fgwh', 'standard', 'both')),
    enabled                INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason        TEXT NOT NULL DEFAULT '',
    -- Deliveries of this webhook that ended failed since the last one that succeeded.
    consecutive_failures   INTEGER NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

CREATE TABLE webhook_event_types (
    webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (webhook_id, event_type)
);

CREATE TABLE events (
    id              TEXT COLLATE "C" PRIMARY KEY,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    type            TEXT COLLATE "C" NOT NULL,
    timestamp       BIGINT NOT NULL,
    -- The exact bytes of the notification's payload object, type first (TEXT, not
    -- JSONB, which would reorder keys).
    payload         TEXT NOT NULL,
    idempotency_key TEXT COLLATE "C",
    created_at      BIGINT NOT NULL
);

CREATE UNIQUE INDEX events_idempotency_key ON events (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_created_at ON events (created_at, seq);
CREATE INDEX events_type_created_at ON events (type, created_at, seq);

CREATE TABLE deliveries (
    id               TEXT COLLATE "C" PRIMARY KEY,
    seq              BIGINT GENERATED ALWAYS AS IDENTITY,
    webhook_id       TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_type       TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL
                     CHECK (status IN ('pending', 'retrying', 'delivering', 'succeeded', 'failed')),
    -- Attempts started so far, including abandoned ones; the claim increments it.
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- The next attempt is a manual retry: if it fails the delivery is failed, with no automatic retry.
    manual           INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    last_attempt_at  BIGINT,
    last_status_code INTEGER,
    last_error       TEXT NOT NULL DEFAULT '',
    completed_at     BIGINT,
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_expires_at BIGINT,
    CHECK ((status IN ('succeeded', 'failed')) = (completed_at IS NOT NULL)),
    CHECK ((status = 'delivering') = (lease_expires_at IS NOT NULL))
);

-- The claim walks enabled webhooks and seeks each one's earliest due deliveries.
CREATE INDEX deliveries_due ON deliveries (webhook_id, next_attempt_at) WHERE status IN ('pending', 'retrying');
-- Rescue finds expired leases.
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'delivering';
CREATE INDEX deliveries_created_at ON deliveries (created_at, seq);
CREATE INDEX deliveries_status_created_at ON deliveries (status, created_at, seq);
CREATE INDEX deliveries_webhook_created_at ON deliveries (webhook_id, created_at, seq);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_type_created_at ON deliveries (event_type, created_at, seq);

CREATE TABLE delivery_attempts (
    delivery_id   TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    -- Copied from the delivery so webhook statistics read one index range.
    webhook_id    TEXT COLLATE "C" NOT NULL,
    number        INTEGER NOT NULL,
    attempted_at  BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    -- 0 when no HTTP response arrived.
    status_code   INTEGER NOT NULL DEFAULT 0,
    error_code    TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    response_body TEXT NOT NULL DEFAULT '',
    manual        INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    PRIMARY KEY (delivery_id, number)
);

CREATE INDEX delivery_attempts_webhook ON delivery_attempts (webhook_id, attempted_at);
