// Command receiver is an example receiver of fgwh webhook notifications,
// written with package sign.
//
// For each POST it verifies fg-webhook-signature (the fgwh scheme) and, when
// the request carries them, the Standard Webhooks headers; a request with
// neither is refused. It rejects an attempt older or newer than five
// minutes: the signed body's deliveryAttemptedAt, and the signed
// webhook-timestamp. It skips a notification it has already processed, keyed
// on (webhookId, eventId), but still answers 2xx so fgwh stops retrying it.
// It answers at once and prints one line per notification on stdout:
//
//	notification webhookId=whk_… eventId=whev_… type=recording.imported verified=fgwh,standard
//
// It answers 401 when a signature is missing or wrong, 400 when the attempt
// is stale or the body is not a notification. Diagnostics go to stderr.
//
// Usage:
//
//	FGWH_TOKEN=whsec_… go run ./examples/go [PORT]
//
// PORT (or $PORT) defaults to 8000, and 0 picks a free port; the receiver
// listens on 127.0.0.1 unless $HOST says otherwise, and prints the address
// it listens on to stderr. FGWH_TOKEN may hold several comma-separated
// tokens: while a token is rotated, give the new one and the previous one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fgwh/fgwh/sign"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var tokens []string
	for _, t := range strings.Split(getenv("FGWH_TOKEN"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	if len(tokens) == 0 {
		return errors.New("set FGWH_TOKEN to the webhook's token")
	}
	port := getenv("PORT")
	if len(args) > 0 {
		port = args[0]
	}
	if port == "" {
		port = "8000"
	}
	host := getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	rc := &receiver{
		verifier: &sign.Verifier{
			Secrets: tokens,
			// The fgwh signature covers the body, and so its
			// deliveryAttemptedAt; checking that time bounds replays.
			CheckAttemptTime: true,
			Tolerance:        5 * time.Minute,
		},
		out:  stdout,
		log:  stderr,
		seen: map[notificationKey]bool{},
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "listening on %s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// notificationKey identifies a notification across fgwh's retries: one
// event is delivered to one webhook at least once.
type notificationKey struct{ webhookID, eventID string }

type receiver struct {
	verifier *sign.Verifier
	out, log io.Writer

	mu sync.Mutex
	// seen holds what was processed. A real receiver keeps this durably,
	// e.g. a unique (webhook_id, event_id) key in the table its work writes
	// to, inserted in the same transaction; an in-memory map forgets
	// everything on restart and grows without bound.
	seen map[notificationKey]bool
}

// notification is the part of fgwh's body this receiver reads.
type notification struct {
	WebhookID string `json:"webhookId"`
	EventID   string `json:"eventId"`
	Payload   struct {
		Type string `json:"type"`
	} `json:"payload"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, schemes, err := rc.verify(r)
	if err != nil {
		status := statusFor(err)
		fmt.Fprintf(rc.log, "rejected %d: %v\n", status, err)
		http.Error(w, err.Error(), status)
		return
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil || n.WebhookID == "" || n.EventID == "" {
		fmt.Fprintf(rc.log, "rejected 400: not an fgwh notification\n")
		http.Error(w, "not an fgwh notification", http.StatusBadRequest)
		return
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	key := notificationKey{n.WebhookID, n.EventID}
	if rc.seen[key] {
		// Acknowledge, or fgwh would keep retrying something already done.
		fmt.Fprintf(rc.log, "duplicate webhookId=%s eventId=%s\n", n.WebhookID, n.EventID)
		fmt.Fprintln(w, "duplicate")
		return
	}
	// Answer fast: real work that takes more than a moment belongs on a
	// queue, recorded here and done after the answer.
	fmt.Fprintf(rc.out, "notification webhookId=%s eventId=%s type=%s verified=%s\n",
		n.WebhookID, n.EventID, n.Payload.Type, strings.Join(schemes, ","))
	rc.seen[key] = true
	fmt.Fprintln(w, "ok")
}

// verify checks every signature the request carries and returns the
// verified body and the schemes that verified.
func (rc *receiver) verify(r *http.Request) ([]byte, []string, error) {
	var body []byte
	var schemes []string
	hasStandard := r.Header.Get(sign.HeaderWebhookSignature) != ""
	// With neither header, this reports the missing fg-webhook-signature.
	if r.Header.Get(sign.Header) != "" || !hasStandard {
		b, err := rc.verifier.VerifyRequest(r)
		if err != nil {
			return nil, nil, err
		}
		body, schemes = b, append(schemes, "fgwh")
	}
	if hasStandard {
		// VerifyRequest put the body back, so it can be read again.
		b, err := rc.verifier.VerifyStandardRequest(r)
		if err != nil {
			return nil, nil, err
		}
		body, schemes = b, append(schemes, "standard")
	}
	return body, schemes, nil
}

// statusFor maps a verification failure to the answer: 401 when the sender
// is not proven, 400 when it is but the attempt is stale or malformed.
func statusFor(err error) int {
	var verr *sign.VerifyError
	if !errors.As(err, &verr) {
		return http.StatusBadRequest
	}
	switch verr.Reason {
	case sign.ReasonTimestampTooOld, sign.ReasonTimestampTooNew, sign.ReasonMalformedBody:
		return http.StatusBadRequest
	case sign.ReasonBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case sign.ReasonBadSecret:
		return http.StatusInternalServerError
	default:
		return http.StatusUnauthorized
	}
}
