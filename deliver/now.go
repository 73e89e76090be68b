package deliver

import (
	"context"
	"fmt"

	"github.com/fgwh/fgwh/store"
)

// DeliverNow makes one attempt at delivery id at once, whenever it is due,
// and records it like the loop would ("webhook ping --wait"). ok is false
// when the delivery could not be claimed: another process is delivering
// it, it is finished, or its webhook is disabled. It does not start the
// loop's workers.
func (l *Loop) DeliverNow(ctx context.Context, id string) (a Attempt, ok bool, err error) {
	now := l.now()
	c, ok, err := l.db.ClaimDelivery(ctx, store.ClaimOneParams{ID: id, Owner: l.owner, Now: now, Lease: l.lease})
	if err != nil || !ok {
		return Attempt{}, false, err
	}
	out := l.send(c)
	comp := completion(l.cfg.Policy, c, out, l.now())
	res, err := l.db.CompleteDeliveries(ctx, store.CompleteParams{Owner: l.owner, Now: l.now(), AutoDisableAfter: l.cfg.AutoDisableAfter},
		[]store.Completion{comp})
	if err != nil {
		return Attempt{}, true, fmt.Errorf("record attempt of delivery %s: %w", id, err)
	}
	a = Attempt{DeliveryID: c.ID, WebhookID: c.WebhookID, EventType: c.EventType, Number: c.Attempt, Manual: c.Manual,
		Outcome: out, Status: comp.Status, NextAttemptAt: comp.NextAttemptAt, Lost: res.Applied == 0,
		DisabledReason: res.Disabled[c.WebhookID]}
	return a, true, nil
}
