package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signature schemes a webhook can be delivered with. Every notification
// carries fg-webhook-signature (SPEC.md), so a receiver that checks only it
// never breaks when the scheme changes.
const (
	// SchemeFGWH signs with fg-webhook-signature alone.
	SchemeFGWH = "fgwh"
	// SchemeStandard adds the Standard Webhooks headers (webhook-id,
	// webhook-timestamp, webhook-signature).
	SchemeStandard = "standard"
	// SchemeBoth is the same as SchemeStandard, for those who want to say
	// both schemes explicitly.
	SchemeBoth = "both"
)

// Webhook subscribes an HTTP endpoint to event types.
type Webhook struct {
	ID              string
	Name            string
	URL             string
	EventTypes      []string
	Enabled         bool
	DisabledReason  string
	SignatureScheme string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// CreateWebhookParams describes a new webhook.
type CreateWebhookParams struct {
	// Name must be unique; empty derives one from the URL's host and path.
	Name       string
	URL        string
	EventTypes []string
	Disabled   bool
	// SignatureScheme is SchemeFGWH when empty.
	SignatureScheme string
	// Token is the secret; empty generates one with NewToken (migrations pass the old one).
	Token string
}

// CreateWebhook stores a new webhook and returns it with its token, which
// the caller shows once.
func (db *DB) CreateWebhook(ctx context.Context, p CreateWebhookParams, now time.Time) (Webhook, string, error) {
	w := Webhook{
		ID:              newID(WebhookIDPrefix),
		Name:            p.Name,
		URL:             p.URL,
		EventTypes:      normTypes(p.EventTypes),
		Enabled:         !p.Disabled,
		SignatureScheme: p.SignatureScheme,
		CreatedAt:       now.UTC().Truncate(time.Millisecond),
	}
	w.UpdatedAt = w.CreatedAt
	if w.SignatureScheme == "" {
		w.SignatureScheme = SchemeFGWH
	}
	if p.Disabled {
		w.DisabledReason = "disabled when created"
	}
	token := p.Token
	if token == "" {
		token = NewToken()
	}
	err := db.retryUnique(ctx, func(tx *sql.Tx) error {
		if p.Name == "" {
			name, err := db.uniqueName(ctx, tx, NameFromURL(w.URL))
			if err != nil {
				return err
			}
			w.Name = name
		} else if err := db.checkName(ctx, tx, w.Name, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO webhooks
			(id, name, url, token, signature_scheme, enabled, disabled_reason, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			w.ID, w.Name, w.URL, token, w.SignatureScheme, boolInt(w.Enabled), w.DisabledReason, ms(w.CreatedAt), ms(w.UpdatedAt))
		if err != nil {
			return err
		}
		return db.setEventTypes(ctx, tx, w.ID, w.EventTypes)
	})
	if err != nil {
		return Webhook{}, "", db.wrap(err)
	}
	return w, token, nil
}

// NameFromURL derives a webhook name from its URL: host and path, without
// a trailing slash.
func NameFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "webhook"
	}
	return strings.TrimSuffix(u.Host+u.EscapedPath(), "/")
}

// uniqueName returns base, or base-2, base-3, … whichever is free first.
func (db *DB) uniqueName(ctx context.Context, tx *sql.Tx, base string) (string, error) {
	if db.dialect == Postgres {
		// PostgreSQL runs writers concurrently: take turns deriving names from
		// one base, or two transactions would pick the same free name.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('fgwh name ' || $1))`, base); err != nil {
			return "", err
		}
	}
	// LIKE's wildcards in base can only widen the set read; the exact map
	// lookup below decides.
	rows, err := tx.QueryContext(ctx, db.rebind(`SELECT name FROM webhooks WHERE name = ? OR name LIKE ?`),
		base, base+"-%")
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return "", err
		}
		taken[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name, nil
}

func (db *DB) checkName(ctx context.Context, tx *sql.Tx, name, exceptID string) error {
	var id string
	err := tx.QueryRowContext(ctx, db.rebind(`SELECT id FROM webhooks WHERE name = ?`), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && id == exceptID) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("webhook name %q: %w by %s", name, ErrNameTaken, id)
}

func (db *DB) setEventTypes(ctx context.Context, tx *sql.Tx, id string, types []string) error {
	if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM webhook_event_types WHERE webhook_id = ?`), id); err != nil {
		return err
	}
	for _, t := range types {
		if _, err := tx.ExecContext(ctx, db.rebind(`INSERT INTO webhook_event_types (webhook_id, event_type) VALUES (?, ?)`), id, t); err != nil {
			return err
		}
	}
	return nil
}

// normTypes sorts and de-duplicates event types.
func normTypes(types []string) []string {
	out := append([]string(nil), types...)
	sort.Strings(out)
	j := 0
	for i, t := range out {
		if i > 0 && t == out[j-1] {
			continue
		}
		out[j] = t
		j++
	}
	return out[:j]
}

const webhookColumns = `id, name, url, enabled, disabled_reason, signature_scheme, created_at, updated_at`

func scanWebhook(s interface{ Scan(...any) error }) (Webhook, error) {
	var w Webhook
	var enabled int
	var created, updated int64
	if err := s.Scan(&w.ID, &w.Name, &w.URL, &enabled, &w.DisabledReason, &w.SignatureScheme, &created, &updated); err != nil {
		return Webhook{}, err
	}
	w.Enabled = enabled == 1
	w.CreatedAt, w.UpdatedAt = fromMS(created), fromMS(updated)
	return w, nil
}

// GetWebhook returns the webhook with the given id.
func (db *DB) GetWebhook(ctx context.Context, id string) (Webhook, error) {
	ws, err := db.listWebhooks(ctx, `WHERE id = ?`, id)
	if err != nil {
		return Webhook{}, err
	}
	if len(ws) == 0 {
		return Webhook{}, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	return ws[0], nil
}

// ListWebhooks returns every webhook, oldest first.
func (db *DB) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	return db.listWebhooks(ctx, ``)
}

func (db *DB) listWebhooks(ctx context.Context, where string, args ...any) ([]Webhook, error) {
	rows, err := db.sql.QueryContext(ctx, db.rebind(`SELECT `+webhookColumns+` FROM webhooks `+where+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, db.wrap(err)
	}
	ws := []Webhook{}
	index := map[string]int{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			rows.Close()
			return nil, db.wrap(err)
		}
		w.EventTypes = []string{}
		index[w.ID] = len(ws)
		ws = append(ws, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.wrap(err)
	}
	if len(ws) == 0 {
		return ws, nil
	}
	// One query for every listed webhook's subscriptions.
	typeQuery := `SELECT webhook_id, event_type FROM webhook_event_types ORDER BY webhook_id, event_type`
	var typeArgs []any
	if len(ws) == 1 {
		typeQuery = `SELECT webhook_id, event_type FROM webhook_event_types WHERE webhook_id = ? ORDER BY event_type`
		typeArgs = []any{ws[0].ID}
	}
	rows, err = db.sql.QueryContext(ctx, db.rebind(typeQuery), typeArgs...)
	if err != nil {
		return nil, db.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, t string
		if err := rows.Scan(&id, &t); err != nil {
			return nil, db.wrap(err)
		}
		if i, ok := index[id]; ok {
			ws[i].EventTypes = append(ws[i].EventTypes, t)
		}
	}
	return ws, db.wrap(rows.Err())
}

// UpdateWebhookParams changes a webhook; nil fields stay as they are.
type UpdateWebhookParams struct {
	ID   string
	Name *string
	URL  *string
	// EventTypes, when non-nil, replaces the subscription.
	EventTypes      []string
	SignatureScheme *string
}

// UpdateWebhook applies p. A new URL applies to deliveries not yet made;
// new event types apply to events emitted later.
func (db *DB) UpdateWebhook(ctx context.Context, p UpdateWebhookParams, now time.Time) (Webhook, error) {
	err := db.retryUnique(ctx, func(tx *sql.Tx) error {
		if err := db.exists(ctx, tx, p.ID); err != nil {
			return err
		}
		if p.Name != nil {
			if err := db.checkName(ctx, tx, *p.Name, p.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhooks SET name = ? WHERE id = ?`), *p.Name, p.ID); err != nil {
				return err
			}
		}
		if p.URL != nil {
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhooks SET url = ? WHERE id = ?`), *p.URL, p.ID); err != nil {
				return err
			}
		}
		if p.SignatureScheme != nil {
			if _, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhooks SET signature_scheme = ? WHERE id = ?`), *p.SignatureScheme, p.ID); err != nil {
				return err
			}
		}
		if p.EventTypes != nil {
			if err := db.setEventTypes(ctx, tx, p.ID, normTypes(p.EventTypes)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhooks SET updated_at = ? WHERE id = ?`), ms(now), p.ID)
		return err
	})
	if err != nil {
		return Webhook{}, db.wrap(err)
	}
	return db.GetWebhook(ctx, p.ID)
}

func (db *DB) exists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, db.rebind(`SELECT 1 FROM webhooks WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	return err
}

// SetWebhookEnabled enables or disables a webhook. Disabling records
// reason; enabling clears it and the failure count that auto-disable reads.
// A disabled webhook's pending deliveries wait and resume when it is
// enabled again.
func (db *DB) SetWebhookEnabled(ctx context.Context, id string, enabled bool, reason string, now time.Time) (Webhook, error) {
	if enabled {
		reason = ""
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.rebind(`UPDATE webhooks
			SET enabled = ?, disabled_reason = ?, consecutive_failures = CASE WHEN ? = 1 THEN 0 ELSE consecutive_failures END, updated_at = ?
			WHERE id = ?`), boolInt(enabled), reason, boolInt(enabled), ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("webhook %s: %w", id, ErrNotFound)
		}
		if enabled {
			// Its waiting deliveries are due again: wake deliver processes.
			return db.notifyDue(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return Webhook{}, db.wrap(err)
	}
	return db.GetWebhook(ctx, id)
}

// DeleteWebhook removes a webhook with its deliveries and their attempts.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	// Foreign keys cascade to subscriptions, deliveries and attempts; attempts
	// are also deleted directly because they carry webhook_id for statistics.
	return db.wrap(db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.exists(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM delivery_attempts WHERE webhook_id = ?`), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.rebind(`DELETE FROM webhooks WHERE id = ?`), id)
		return err
	}))
}

// RotateToken gives the webhook a new token and returns it. With grace > 0
// the old token stays valid for Standard Webhooks signatures until now+grace;
// otherwise it stops at once.
func (db *DB) RotateToken(ctx context.Context, id string, grace time.Duration, now time.Time) (string, error) {
	token := NewToken()
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.exists(ctx, tx, id); err != nil {
			return err
		}
		var q string
		var args []any
		if grace > 0 {
			q = `UPDATE webhooks SET previous_token = token, previous_token_expires_at = ?, token = ?, updated_at = ? WHERE id = ?`
			args = []any{ms(now.Add(grace)), token, ms(now), id}
		} else {
			q = `UPDATE webhooks SET previous_token = '', previous_token_expires_at = 0, token = ?, updated_at = ? WHERE id = ?`
			args = []any{token, ms(now), id}
		}
		_, err := tx.ExecContext(ctx, db.rebind(q), args...)
		return err
	})
	if err != nil {
		return "", db.wrap(err)
	}
	return token, nil
}

// WebhookSecrets is what signing needs; only the delivery loop and migrate read it.
type WebhookSecrets struct {
	Token string
	// PreviousToken is set while a rotation's grace period lasts.
	PreviousToken          string
	PreviousTokenExpiresAt time.Time
}

// GetWebhookSecrets returns a webhook's tokens.
func (db *DB) GetWebhookSecrets(ctx context.Context, id string) (WebhookSecrets, error) {
	var s WebhookSecrets
	var exp int64
	err := db.sql.QueryRowContext(ctx, db.rebind(`SELECT token, previous_token, previous_token_expires_at FROM webhooks WHERE id = ?`), id).
		Scan(&s.Token, &s.PreviousToken, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	if exp > 0 {
		s.PreviousTokenExpiresAt = fromMS(exp)
	}
	return s, db.wrap(err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
