package store

import (
	"context"
	"database/sql"
	"time"
)

// ClaimOneParams names the delivery ClaimDelivery claims.
type ClaimOneParams struct {
	ID    string
	Owner string
	Now   time.Time
	Lease time.Duration
}

// ClaimDelivery claims one delivery for an attempt now, whenever it is
// due, as long as it is pending or retrying and its webhook is enabled
// ("webhook ping --wait"). ok is false when it is not: another process is
// delivering it, it is finished, or its webhook is disabled.
func (db *DB) ClaimDelivery(ctx context.Context, p ClaimOneParams) (c Claimed, ok bool, err error) {
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var manual int
		err := tx.QueryRowContext(ctx, db.rebind(`UPDATE deliveries
			SET status = 'delivering', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?
			WHERE id = ? AND status IN ('pending', 'retrying')
				AND webhook_id IN (SELECT id FROM webhooks WHERE enabled = 1)
			RETURNING id, attempts, manual, webhook_id, event_id, event_type`), p.Owner, ms(p.Now.Add(p.Lease)), p.ID).
			Scan(&c.ID, &c.Attempt, &manual, &c.WebhookID, &c.EventID, &c.EventType)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		c.Manual = manual == 1
		got := []Claimed{c}
		if err := db.claimDetails(ctx, tx, got, p.Now); err != nil {
			return err
		}
		c, ok = got[0], true
		return nil
	})
	if err != nil {
		return Claimed{}, false, db.wrap(err)
	}
	return c, ok, nil
}
