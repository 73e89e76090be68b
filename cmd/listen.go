package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fgwh/fgwh/sign"
	"github.com/spf13/cobra"
)

// DefaultListenAddr is where "fgwh listen" listens without --addr.
const DefaultListenAddr = "127.0.0.1:8787"

// listenShutdownTimeout bounds how long listen waits for requests in
// progress when it is stopped.
const listenShutdownTimeout = 5 * time.Second

// Names of the signature schemes listen reports.
const (
	listenSchemeFGWH     = "fgwh"
	listenSchemeStandard = "standard"
)

// ListenOptions are the inputs of "fgwh listen".
type ListenOptions struct {
	App  *App
	Addr string
	// Tokens are the webhook tokens a request may be signed with: more than
	// one while a token is being rotated.
	Tokens []string
}

func newCmdListen(app *App) *cobra.Command { return newCmdListenF(app, nil) }

// newCmdListenF is newCmdListen with runF, which tests set to capture the options.
func newCmdListenF(app *App, runF func(*ListenOptions) error) *cobra.Command {
	opts := &ListenOptions{App: app}
	c := &cobra.Command{
		Use:   "listen [--addr <host:port>] --token <token> [--token <token>...]",
		Short: "Run a local receiver that verifies and prints notifications",
		Long: `Listen runs a webhook receiver for development. It verifies each request's
signature, prints the request, and answers 200, or 400 when a signature is
missing or wrong (printing why).

A request must carry fg-webhook-signature (SPEC.md's scheme), Standard Webhooks
headers (webhook-id, webhook-timestamp, webhook-signature), or both; every
scheme it carries must verify with one of the --token values. The output says
which schemes verified. Give --token twice (old and new) while rotating a token.
Standard Webhooks timestamps must lie within 5 minutes of now; the fgwh
scheme's deliveryAttemptedAt is printed but not checked, so a captured
notification can be replayed with curl.

Requests are printed to stdout: readably, or with -o json as JSON lines, one
object per request. The address listened on is printed to stderr at start
(use --addr 127.0.0.1:0 for any free port). Listen runs until interrupted
(Ctrl-C, SIGTERM) and then exits 0.`,
		Example: `  fgwh listen --token "$TOKEN"
  fgwh webhook create --url http://127.0.0.1:8787/ --event recording.imported
  fgwh -o json listen --addr 127.0.0.1:0 --token "$OLD" --token "$NEW" | jq .eventType`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(opts.Tokens) == 0 {
				return withHint(usagef("--token is required"), "give the token printed by 'fgwh webhook create' or 'fgwh webhook rotate-token'")
			}
			for _, t := range opts.Tokens {
				if t == "" {
					return usagef("--token must not be empty")
				}
			}
			if err := checkListenAddr(opts.Addr); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listenRun(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Addr, "addr", DefaultListenAddr, "the address to listen on; port 0 picks a free port")
	c.Flags().StringArrayVar(&opts.Tokens, "token", nil, "a webhook token requests may be signed with; repeat it during a rotation")
	return c
}

// checkListenAddr accepts host:port with a numeric port.
func checkListenAddr(addr string) error {
	bad := func(why string) error {
		return withHint(usagef("invalid --addr %q: %s", addr, why), "use host:port, such as 127.0.0.1:8787, or 127.0.0.1:0 for any free port")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return bad(ae.Err)
		}
		return bad(err.Error())
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return bad("the port must be a number from 0 to 65535")
	}
	return nil
}

func listenRun(ctx context.Context, opts *ListenOptions) error {
	app := opts.App
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return err
	}
	h := &listenHandler{
		app:      app,
		verifier: &sign.Verifier{Secrets: opts.Tokens, NowFunc: app.Now},
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(app.IO.ErrOut, "listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Let requests in progress finish and print before returning.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop listening: %w", err)
	}
	return nil
}

// listenHandler verifies and prints each request.
type listenHandler struct {
	app      *App
	verifier *sign.Verifier
	// mu keeps one request's output together.
	mu sync.Mutex
}

// listenRequest is what listen learned about one request.
type listenRequest struct {
	receivedAt time.Time
	method     string
	path       string
	status     int
	// verified are the schemes whose signature verified.
	verified []string
	// err says why the request was refused; nil when it was answered 200.
	err error
	// checked is true when signatures were checked (err is then about them).
	checked bool
	body    []byte
	// note is the body's fields, read without trusting them.
	note listenNotification
	// messageID is the Standard Webhooks webhook-id header.
	messageID string
}

// listenNotification holds the fields of a notification listen prints.
type listenNotification struct {
	Timestamp           string `json:"timestamp"`
	DeliveryAttemptedAt string `json:"deliveryAttemptedAt"`
	WebhookID           string `json:"webhookId"`
	EventID             string `json:"eventId"`
	Payload             struct {
		Type string `json:"type"`
	} `json:"payload"`
}

// listenRecordView is one request in "listen -o json" (one JSON line each).
type listenRecordView struct {
	ReceivedAt jsonTime `json:"receivedAt"`
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	// Status is the HTTP status listen answered.
	Status int `json:"status"`
	// Verified is true when the request was accepted.
	Verified bool `json:"verified"`
	// Schemes lists the signature schemes that verified: fgwh, standard.
	Schemes []string `json:"schemes"`
	// Error says why the request was refused; Reason is its sign.Reason.
	Error               *string `json:"error"`
	Reason              *string `json:"reason"`
	EventType           *string `json:"eventType"`
	WebhookID           *string `json:"webhookId"`
	EventID             *string `json:"eventId"`
	MessageID           *string `json:"messageId"`
	Timestamp           *string `json:"timestamp"`
	DeliveryAttemptedAt *string `json:"deliveryAttemptedAt"`
	// Body is the body as JSON when it is JSON, else as a string.
	Body any `json:"body"`
}

func (h *listenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := h.verify(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(req.status)
	if req.err != nil {
		fmt.Fprintf(w, "fgwh listen: %v\n", req.err)
	} else {
		fmt.Fprintln(w, "ok")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.app.JSON() {
		h.printJSON(req)
	} else {
		h.printText(req)
	}
}

// verify reads r's body and checks every signature scheme r carries.
func (h *listenHandler) verify(r *http.Request) listenRequest {
	req := listenRequest{receivedAt: h.app.now(), method: r.Method, path: r.URL.RequestURI(), status: http.StatusOK}
	body, err := io.ReadAll(io.LimitReader(r.Body, sign.DefaultMaxBodyBytes+1))
	req.body = body
	switch {
	case err != nil:
		req.status, req.err = http.StatusBadRequest, fmt.Errorf("read body: %w", err)
		return req
	case len(body) > sign.DefaultMaxBodyBytes:
		req.status, req.err = http.StatusRequestEntityTooLarge, &sign.VerifyError{Reason: sign.ReasonBodyTooLarge,
			Err: fmt.Errorf("more than %d bytes", sign.DefaultMaxBodyBytes)}
		return req
	case r.Method != http.MethodPost:
		req.status, req.err = http.StatusMethodNotAllowed, errors.New("notifications are POSTed")
		return req
	}
	req.checked = true
	// The fields are only printed; nothing is decided on them.
	_ = json.Unmarshal(body, &req.note)
	req.messageID = r.Header.Get(sign.HeaderWebhookID)
	fgwhSig := r.Header.Get(sign.Header)
	stdSigs := strings.Join(r.Header.Values(sign.HeaderWebhookSignature), " ")
	stdTS := r.Header.Get(sign.HeaderWebhookTimestamp)
	hasStandard := req.messageID != "" || stdTS != "" || stdSigs != ""
	var errs []error
	if fgwhSig != "" || !hasStandard {
		if err := h.verifier.Verify(body, fgwhSig); err != nil {
			errs = append(errs, err)
		} else {
			req.verified = append(req.verified, listenSchemeFGWH)
		}
	}
	if hasStandard {
		if err := h.verifier.VerifyStandard(req.messageID, stdTS, stdSigs, body); err != nil {
			errs = append(errs, err)
		} else {
			req.verified = append(req.verified, listenSchemeStandard)
		}
	}
	if len(errs) > 0 {
		req.status, req.err = http.StatusBadRequest, errors.Join(errs...)
	}
	return req
}

func (h *listenHandler) printText(req listenRequest) {
	w := h.app.IO.Out
	fmt.Fprintf(w, "%s  %s %s  %d %s\n", formatTime(req.receivedAt), req.method, req.path, req.status, http.StatusText(req.status))
	var fields [][2]string
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, [2]string{"  " + k, v})
		}
	}
	add("type", req.note.Payload.Type)
	add("webhook", req.note.WebhookID)
	add("event", req.note.EventID)
	add("webhook-id", req.messageID)
	add("timestamp", req.note.Timestamp)
	add("attempted at", req.note.DeliveryAttemptedAt)
	switch {
	case req.err != nil && !req.checked:
		add("error", req.err.Error())
	case req.err != nil:
		sig := "FAILED: " + oneLine(strings.ReplaceAll(req.err.Error(), "\n", "; "))
		if len(req.verified) > 0 {
			sig += " (" + strings.Join(req.verified, " and ") + " verified)"
		}
		add("signature", sig)
	default:
		add("signature", "ok ("+strings.Join(req.verified, ", ")+")")
	}
	writeFields(w, fields)
	if len(req.body) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, req.body, "  ", "  ") == nil {
			fmt.Fprintf(w, "  %s\n", pretty.Bytes())
		} else {
			fmt.Fprintf(w, "  %q\n", shortenBytes(req.body, 4<<10))
		}
	}
	fmt.Fprintln(w)
}

func (h *listenHandler) printJSON(req listenRequest) {
	v := listenRecordView{
		ReceivedAt:          jsonTime(req.receivedAt),
		Method:              req.method,
		Path:                req.path,
		Status:              req.status,
		Verified:            req.err == nil,
		Schemes:             append([]string{}, req.verified...),
		EventType:           nonEmpty(req.note.Payload.Type),
		WebhookID:           nonEmpty(req.note.WebhookID),
		EventID:             nonEmpty(req.note.EventID),
		MessageID:           nonEmpty(req.messageID),
		Timestamp:           nonEmpty(req.note.Timestamp),
		DeliveryAttemptedAt: nonEmpty(req.note.DeliveryAttemptedAt),
		Body:                string(req.body),
	}
	if req.err != nil {
		v.Error = nonEmpty(strings.ReplaceAll(req.err.Error(), "\n", "; "))
		var ve *sign.VerifyError
		if errors.As(req.err, &ve) {
			v.Reason = nonEmpty(string(ve.Reason))
		}
	}
	var compact bytes.Buffer
	if json.Compact(&compact, req.body) == nil {
		v.Body = json.RawMessage(compact.Bytes())
	}
	enc := json.NewEncoder(h.app.IO.Out)
	enc.SetEscapeHTML(false)
	// An encoding error can only be a failed write to stdout, which the
	// next request would meet too; there is no one to report it to.
	_ = enc.Encode(v)
}

// shortenBytes cuts b to at most n bytes.
func shortenBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}
