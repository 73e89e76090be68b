package sign_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
)

// clock returns a NowFunc that always answers t.
func clock(t time.Time) func() time.Time {
	return func() time.Time { return t }
}

// checkVerifyError fails t unless err is nil when want is "", or else a
// *VerifyError with Reason want and Header header that errors.Is matches
// to its sentinel and to no other.
func checkVerifyError(t *testing.T, err error, want sign.Reason, header string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	var verr *sign.VerifyError
	if !errors.As(err, &verr) {
		t.Fatalf("error = %v (%T), want a *VerifyError with reason %s", err, err, want)
	}
	if verr.Reason != want || verr.Header != header {
		t.Fatalf("error = %v: reason %q header %q, want reason %q header %q", err, verr.Reason, verr.Header, want, header)
	}
	for reason, sentinel := range sentinels {
		if got := errors.Is(err, sentinel); got != (reason == want) {
			t.Fatalf("errors.Is(%v, Err for %s) = %v", err, reason, got)
		}
	}
}

var sentinels = map[sign.Reason]error{
	sign.ReasonMissingHeader:   sign.ErrMissingHeader,
	sign.ReasonMalformedHeader: sign.ErrMalformedHeader,
	sign.ReasonBadSignature:    sign.ErrBadSignature,
	sign.ReasonTimestampTooOld: sign.ErrTimestampTooOld,
	sign.ReasonTimestampTooNew: sign.ErrTimestampTooNew,
	sign.ReasonBadSecret:       sign.ErrBadSecret,
	sign.ReasonBodyTooLarge:    sign.ErrBodyTooLarge,
	sign.ReasonMalformedBody:   sign.ErrMalformedBody,
}

func TestVerifier_VerifyStandard(t *testing.T) {
	t.Parallel()
	sent := time.Unix(specTimestamp, 0)
	otherSig, err := sign.SignStandard(otherSecret, specMsgID, sent, []byte(specPayload))
	if err != nil {
		t.Fatal(err)
	}
	// Signatures that are well formed but wrong, from the reference tests.
	const (
		junk       = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
		lastBitOff = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
	)

	tests := []struct {
		name      string
		secrets   []string // default: specSecret
		tolerance time.Duration
		now       time.Time // default: sent
		msgID     string    // default: specMsgID
		timestamp string    // default: "1614265330"
		sigs      string    // default: specSignature
		body      string    // default: specPayload
		want      sign.Reason
		header    string
	}{
		{name: "spec vector"},
		{name: "secret without prefix", secrets: []string{strings.TrimPrefix(specSecret, "whsec_")}},
		{name: "one of several signatures", sigs: junk + " v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + specSignature + " " + junk},
		{name: "asymmetric v1a signature skipped", sigs: "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== " + specSignature},
		{name: "extra spaces between signatures", sigs: "  " + junk + "   " + specSignature + " "},

		// Rotation: the sender signs with new and old, the receiver holds either or both.
		{name: "rotation: receiver holds old and new, sender signs with new", secrets: []string{otherSecret, specSecret}},
		{name: "rotation: receiver holds new only, sender signs with both", secrets: []string{specSecret}, sigs: otherSig + " " + specSignature},
		{name: "rotation: receiver holds old only, sender signs with both", secrets: []string{otherSecret}, sigs: otherSig + " " + specSignature},
		{name: "rotation: no secret in common", secrets: []string{otherSecret}, want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},

		// Tampering.
		{name: "changed body", body: `{"test": 2432232315}`, want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "body with trailing newline", body: specPayload + "\n", want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "changed message id", msgID: specMsgID + "x", want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "changed timestamp", timestamp: "1614265331", want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "wrong secret", secrets: []string{otherSecret}, want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "wrong signature", sigs: junk, want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "one bit off", sigs: lastBitOff, want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "signature of another version", sigs: "v2," + strings.TrimPrefix(specSignature, "v1,"), want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "signature without version", sigs: strings.TrimPrefix(specSignature, "v1,"), want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "empty signature", sigs: "v1,", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "truncated signature", sigs: specSignature[:8], want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "short signature", sigs: "v1,dawfeoifkpqwoekfpqoekf", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "signature not base64", sigs: "v1,!" + specSignature[4:], want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "non-canonical base64", sigs: specSignature[:len(specSignature)-2] + "F=", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},
		{name: "url-safe base64", sigs: "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy_WavXrAFQ_9tdO6mc=", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookSignature},

		// Missing and malformed headers.
		{name: "missing id", msgID: "-", want: sign.ReasonMissingHeader, header: sign.HeaderWebhookID},
		{name: "missing timestamp", timestamp: "-", want: sign.ReasonMissingHeader, header: sign.HeaderWebhookTimestamp},
		{name: "missing signature", sigs: "-", want: sign.ReasonMissingHeader, header: sign.HeaderWebhookSignature},
		{name: "id with dot", msgID: "msg.1614265330", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookID},
		{name: "timestamp not a number", timestamp: "hello", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookTimestamp},
		{name: "timestamp with plus sign", timestamp: "+1614265330", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookTimestamp},
		{name: "timestamp with leading zero", timestamp: "01614265330", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookTimestamp},
		{name: "timestamp with fraction", timestamp: "1614265330.5", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookTimestamp},
		{name: "timestamp in milliseconds", timestamp: "1614265330000", want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},
		{name: "timestamp negative", timestamp: "-1", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookTimestamp},
		{name: "timestamp overflows int64", timestamp: "9223372036854775808", want: sign.ReasonMalformedHeader, header: sign.HeaderWebhookTimestamp},

		// Expiry, with the default tolerance of 5 minutes.
		{name: "sent 5m ago", now: sent.Add(5 * time.Minute)},
		{name: "sent 5m ago, clock mid-second", now: sent.Add(5*time.Minute + 999*time.Millisecond)},
		{name: "sent 5m1s ago", now: sent.Add(5*time.Minute + time.Second), want: sign.ReasonTimestampTooOld, header: sign.HeaderWebhookTimestamp},
		{name: "sent a day ago", now: sent.Add(24 * time.Hour), want: sign.ReasonTimestampTooOld, header: sign.HeaderWebhookTimestamp},
		{name: "sent 5m ahead", now: sent.Add(-5 * time.Minute)},
		{name: "sent 5m1s ahead", now: sent.Add(-5*time.Minute - time.Second), want: sign.ReasonTimestampTooNew, header: sign.HeaderWebhookTimestamp},
		{name: "stale and badly signed reports the signature", now: sent.Add(time.Hour), sigs: junk, want: sign.ReasonBadSignature, header: sign.HeaderWebhookSignature},

		// Expiry with a configured tolerance.
		{name: "tolerance 10s, sent 10s ago", tolerance: 10 * time.Second, now: sent.Add(10 * time.Second)},
		{name: "tolerance 10s, sent 11s ago", tolerance: 10 * time.Second, now: sent.Add(11 * time.Second), want: sign.ReasonTimestampTooOld, header: sign.HeaderWebhookTimestamp},
		{name: "tolerance 10s, sent 11s ahead", tolerance: 10 * time.Second, now: sent.Add(-11 * time.Second), want: sign.ReasonTimestampTooNew, header: sign.HeaderWebhookTimestamp},
		{name: "tolerance rounds down to seconds", tolerance: 1999 * time.Millisecond, now: sent.Add(2 * time.Second), want: sign.ReasonTimestampTooOld, header: sign.HeaderWebhookTimestamp},
		{name: "tolerance an hour", tolerance: time.Hour, now: sent.Add(time.Hour)},
		{name: "negative tolerance means the default", tolerance: -time.Second, now: sent.Add(5 * time.Minute)},

		// The receiver's own secrets.
		{name: "no secrets", secrets: []string{}, want: sign.ReasonBadSecret},
		{name: "empty secret", secrets: []string{specSecret, ""}, want: sign.ReasonBadSecret},
		{name: "secret not base64", secrets: []string{specSecret, "whsec_not base64"}, want: sign.ReasonBadSecret},
		{name: "secret of nothing", secrets: []string{"whsec_"}, want: sign.ReasonBadSecret},
		{name: "bad secret reported before missing headers", secrets: []string{}, sigs: "-", want: sign.ReasonBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &sign.Verifier{Secrets: []string{specSecret}, Tolerance: tt.tolerance, NowFunc: clock(sent)}
			if tt.secrets != nil {
				v.Secrets = tt.secrets
			}
			if !tt.now.IsZero() {
				v.NowFunc = clock(tt.now)
			}
			msgID, timestamp, sigs, body := specMsgID, "1614265330", specSignature, specPayload
			for _, f := range []struct {
				dst *string
				val string
			}{
				{&msgID, tt.msgID}, {&timestamp, tt.timestamp}, {&sigs, tt.sigs}, {&body, tt.body},
			} {
				switch f.val {
				case "":
				case "-":
					*f.dst = ""
				default:
					*f.dst = f.val
				}
			}
			err := v.VerifyStandard(msgID, timestamp, sigs, []byte(body))
			checkVerifyError(t, err, tt.want, tt.header)
		})
	}
}

func TestVerifier_VerifyStandard_ExtremeTimestamps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ts   int64
		now  time.Time
		want sign.Reason
	}{
		{"largest int64 timestamp", 1<<63 - 1, time.Unix(specTimestamp, 0), sign.ReasonTimestampTooNew},
		{"zero timestamp", 0, time.Unix(specTimestamp, 0), sign.ReasonTimestampTooOld},
		{"zero timestamp at the epoch", 0, time.Unix(0, 0), ""},
		{"clock before the epoch", 0, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), sign.ReasonTimestampTooNew},
		{"clock at year 9999", 1<<63 - 1, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), sign.ReasonTimestampTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := time.Unix(tt.ts, 0)
			sig, err := sign.SignStandard(specSecret, specMsgID, ts, []byte(specPayload))
			if err != nil {
				t.Fatal(err)
			}
			v := &sign.Verifier{Secrets: []string{specSecret}, NowFunc: clock(tt.now)}
			err = v.VerifyStandard(specMsgID, strconv.FormatInt(tt.ts, 10), sig, []byte(specPayload))
			header := ""
			if tt.want != "" {
				header = sign.HeaderWebhookTimestamp
			}
			checkVerifyError(t, err, tt.want, header)
		})
	}
}

func TestVerifier_Verify(t *testing.T) {
	t.Parallel()
	// notification's deliveryAttemptedAt.
	attempted := time.Date(2022, 10, 1, 6, 54, 29, 512e6, time.UTC)
	good := knownAnswers[0].want

	tests := []struct {
		name      string
		secrets   []string // default: testToken
		check     bool     // CheckAttemptTime
		tolerance time.Duration
		now       time.Time // default: attempted
		body      string    // default: notification
		sig       string    // default: body signed with testToken; "-" for none
		want      sign.Reason
		header    string
	}{
		{name: "known answer"},
		{name: "upper-case hex", sig: strings.ToUpper(good)},
		{name: "rotation: second secret matches", secrets: []string{"whsec_new", testToken}},
		{name: "rotation: no secret matches", secrets: []string{"whsec_new", "whsec_old"}, want: sign.ReasonBadSignature, header: sign.Header},
		{name: "changed body byte", body: strings.Replace(notification, "rec_", "rec-", 1), sig: good, want: sign.ReasonBadSignature, header: sign.Header},
		{name: "changed key", secrets: []string{testToken + "x"}, want: sign.ReasonBadSignature, header: sign.Header},
		{name: "missing", sig: "-", want: sign.ReasonMissingHeader, header: sign.Header},
		{name: "truncated", sig: good[:62], want: sign.ReasonMalformedHeader, header: sign.Header},
		{name: "odd length", sig: good[:63], want: sign.ReasonMalformedHeader, header: sign.Header},
		{name: "non-hex", sig: "g" + good[1:], want: sign.ReasonMalformedHeader, header: sign.Header},
		{name: "standard webhooks signature", sig: specSignature, want: sign.ReasonMalformedHeader, header: sign.Header},
		{name: "no secrets", secrets: []string{}, want: sign.ReasonBadSecret},
		{name: "empty secret", secrets: []string{""}, want: sign.ReasonBadSecret},

		// Freshness of deliveryAttemptedAt, checked only when asked.
		{name: "stale, not checked", now: attempted.Add(24 * time.Hour)},
		{name: "attempted 5m ago", check: true, now: attempted.Add(5 * time.Minute)},
		{name: "attempted 5m1ms ago", check: true, now: attempted.Add(5*time.Minute + time.Millisecond), want: sign.ReasonTimestampTooOld},
		{name: "attempted 5m ahead", check: true, now: attempted.Add(-5 * time.Minute)},
		{name: "attempted 5m1ms ahead", check: true, now: attempted.Add(-5*time.Minute - time.Millisecond), want: sign.ReasonTimestampTooNew},
		{name: "tolerance 1s, attempted 1.5s ago", check: true, tolerance: time.Second, now: attempted.Add(1500 * time.Millisecond), want: sign.ReasonTimestampTooOld},
		{name: "tolerance 1h, attempted 1h ago", check: true, tolerance: time.Hour, now: attempted.Add(time.Hour)},
		{name: "stale and badly signed reports the signature", check: true, now: attempted.Add(time.Hour), secrets: []string{"whsec_other"}, want: sign.ReasonBadSignature, header: sign.Header},
		{name: "time with offset", check: true, now: attempted, body: `{"deliveryAttemptedAt":"2022-10-01T08:54:29.512+02:00"}`},
		{name: "no deliveryAttemptedAt", check: true, body: `{"timestamp":"2022-10-01T06:54:29.078Z"}`, want: sign.ReasonMalformedBody},
		{name: "deliveryAttemptedAt not a time", check: true, body: `{"deliveryAttemptedAt":"yesterday"}`, want: sign.ReasonMalformedBody},
		{name: "deliveryAttemptedAt a number", check: true, body: `{"deliveryAttemptedAt":1664607269}`, want: sign.ReasonMalformedBody},
		{name: "body not JSON", check: true, body: `hello`, want: sign.ReasonMalformedBody},
		{name: "body empty", check: true, body: "-", want: sign.ReasonMalformedBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &sign.Verifier{Secrets: []string{testToken}, CheckAttemptTime: tt.check, Tolerance: tt.tolerance, NowFunc: clock(attempted)}
			if tt.secrets != nil {
				v.Secrets = tt.secrets
			}
			if !tt.now.IsZero() {
				v.NowFunc = clock(tt.now)
			}
			// The body, correctly signed unless tt.sig says otherwise.
			body := notification
			switch tt.body {
			case "":
			case "-":
				body = ""
			default:
				body = tt.body
			}
			sig := sign.Sign(testToken, []byte(body))
			switch tt.sig {
			case "":
			case "-":
				sig = ""
			default:
				sig = tt.sig
			}
			checkVerifyError(t, v.Verify([]byte(body), sig), tt.want, tt.header)
		})
	}
}

// newRequest returns a server-side request as a handler would see it, its
// body readable only through a plain io.Reader (so no ContentLength).
func newRequest(body string, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks", io.MultiReader(strings.NewReader(body)))
	for k, vs := range header {
		r.Header[k] = vs
	}
	return r
}

// readAll reads r.Body as a handler would after verification.
func readAll(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read r.Body: %v", err)
	}
	return string(b)
}

func TestVerifier_VerifyRequest(t *testing.T) {
	t.Parallel()
	good := http.Header{"Fg-Webhook-Signature": {knownAnswers[0].want}}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{testToken}}
		r := newRequest(notification, good)
		body, err := v.VerifyRequest(r)
		checkVerifyError(t, err, "", "")
		if string(body) != notification {
			t.Fatalf("body = %q, want %q", body, notification)
		}
		if got := readAll(t, r); got != notification {
			t.Fatalf("r.Body after verification = %q, want %q", got, notification)
		}
	})
	t.Run("header name in any case", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{testToken}}
		r := newRequest(notification, nil)
		r.Header.Set("FG-WEBHOOK-SIGNATURE", knownAnswers[0].want)
		_, err := v.VerifyRequest(r)
		checkVerifyError(t, err, "", "")
	})
	t.Run("bad signature leaves the body readable", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{"whsec_other"}}
		r := newRequest(notification, good)
		body, err := v.VerifyRequest(r)
		checkVerifyError(t, err, sign.ReasonBadSignature, sign.Header)
		if body != nil {
			t.Fatalf("body = %q, want nil", body)
		}
		if got := readAll(t, r); got != notification {
			t.Fatalf("r.Body = %q, want %q", got, notification)
		}
	})
	t.Run("missing header does not read the body", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{testToken}}
		r := newRequest(notification, nil)
		orig := r.Body
		_, err := v.VerifyRequest(r)
		checkVerifyError(t, err, sign.ReasonMissingHeader, sign.Header)
		if r.Body != orig {
			t.Fatal("r.Body replaced")
		}
		if got := readAll(t, r); got != notification {
			t.Fatalf("r.Body = %q, want %q", got, notification)
		}
	})
	t.Run("stale attempt", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{
			Secrets:          []string{testToken},
			CheckAttemptTime: true,
			NowFunc:          clock(time.Date(2022, 10, 1, 7, 0, 0, 0, time.UTC)),
		}
		_, err := v.VerifyRequest(newRequest(notification, good))
		checkVerifyError(t, err, sign.ReasonTimestampTooOld, "")
		want := "timestamp too old: deliveryAttemptedAt 2022-10-01T06:54:29.512Z is 5m30.488s before now, tolerance 5m0s"
		if err.Error() != want {
			t.Fatalf("error = %q, want %q", err, want)
		}
	})
	t.Run("no body", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{"key"}}
		r := httptest.NewRequest(http.MethodPost, "/hooks", nil)
		r.Header.Set(sign.Header, knownAnswers[1].want) // the empty body's signature
		body, err := v.VerifyRequest(r)
		checkVerifyError(t, err, "", "")
		if body == nil || len(body) != 0 {
			t.Fatalf("body = %#v, want empty and non-nil", body)
		}
	})
	t.Run("no secrets", func(t *testing.T) {
		t.Parallel()
		_, err := (&sign.Verifier{}).VerifyRequest(newRequest(notification, good))
		checkVerifyError(t, err, sign.ReasonBadSecret, "")
	})
}

func TestVerifier_VerifyRequest_BodyCap(t *testing.T) {
	t.Parallel()
	body := notification // 226 bytes
	header := http.Header{"Fg-Webhook-Signature": {knownAnswers[0].want}}

	tests := []struct {
		name          string
		max           int64
		contentLength bool // whether the request declares its length
		want          sign.Reason
	}{
		{"at the cap", int64(len(body)), false, ""},
		{"at the cap, length declared", int64(len(body)), true, ""},
		{"one byte over", int64(len(body)) - 1, false, sign.ReasonBodyTooLarge},
		{"one byte over, length declared", int64(len(body)) - 1, true, sign.ReasonBodyTooLarge},
		{"default cap", 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRequest(body, header)
			if tt.contentLength {
				r = httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
				r.Header = header.Clone()
			}
			orig := r.Body
			v := &sign.Verifier{Secrets: []string{testToken}, MaxBodyBytes: tt.max}
			_, err := v.VerifyRequest(r)
			checkVerifyError(t, err, tt.want, "")
			if tt.contentLength && tt.want != "" && r.Body != orig {
				t.Fatal("r.Body replaced although its declared length was over the cap")
			}
			if got := readAll(t, r); got != body {
				t.Fatalf("r.Body = %q, want the whole body", got)
			}
		})
	}

	t.Run("over the default cap", func(t *testing.T) {
		t.Parallel()
		big := strings.Repeat("x", sign.DefaultMaxBodyBytes+1)
		r := newRequest(big, http.Header{"Fg-Webhook-Signature": {sign.Sign(testToken, []byte(big))}})
		_, err := (&sign.Verifier{Secrets: []string{testToken}}).VerifyRequest(r)
		checkVerifyError(t, err, sign.ReasonBodyTooLarge, "")
		if want := "body too large: more than 1048576 bytes"; err.Error() != want {
			t.Fatalf("error = %q, want %q", err, want)
		}
	})
}

// failingReader yields data, then err.
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestVerifier_VerifyRequest_ReadError(t *testing.T) {
	t.Parallel()
	errReset := errors.New("connection reset")
	r := httptest.NewRequest(http.MethodPost, "/hooks", &failingReader{data: "partial", err: errReset})
	r.Header.Set(sign.Header, knownAnswers[0].want)
	_, err := (&sign.Verifier{Secrets: []string{testToken}}).VerifyRequest(r)
	if !errors.Is(err, errReset) {
		t.Fatalf("error = %v, want it to wrap %v", err, errReset)
	}
	var verr *sign.VerifyError
	if errors.As(err, &verr) {
		t.Fatalf("error = %v is a *VerifyError; a read error is not a verification failure", err)
	}
	// The handler still sees what was read, then the same error.
	b, rerr := io.ReadAll(r.Body)
	if string(b) != "partial" || !errors.Is(rerr, errReset) {
		t.Fatalf("r.Body = %q, %v; want %q, %v", b, rerr, "partial", errReset)
	}
}

func TestVerifier_VerifyStandardRequest(t *testing.T) {
	t.Parallel()
	now := clock(time.Unix(specTimestamp, 0))
	header := func() http.Header {
		return http.Header{
			"Webhook-Id":        {specMsgID},
			"Webhook-Timestamp": {"1614265330"},
			"Webhook-Signature": {specSignature},
		}
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{specSecret}, NowFunc: now}
		r := newRequest(specPayload, header())
		body, err := v.VerifyStandardRequest(r)
		checkVerifyError(t, err, "", "")
		if string(body) != specPayload {
			t.Fatalf("body = %q, want %q", body, specPayload)
		}
		if got := readAll(t, r); got != specPayload {
			t.Fatalf("r.Body = %q, want %q", got, specPayload)
		}
	})
	t.Run("signatures over two header lines", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{specSecret}, NowFunc: now}
		h := header()
		h["Webhook-Signature"] = []string{"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", specSignature}
		_, err := v.VerifyStandardRequest(newRequest(specPayload, h))
		checkVerifyError(t, err, "", "")
	})
	for _, name := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
		t.Run("missing "+name, func(t *testing.T) {
			t.Parallel()
			v := &sign.Verifier{Secrets: []string{specSecret}, NowFunc: now}
			h := header()
			delete(h, name)
			r := newRequest(specPayload, h)
			orig := r.Body
			_, err := v.VerifyStandardRequest(r)
			checkVerifyError(t, err, sign.ReasonMissingHeader, strings.ToLower(name))
			if r.Body != orig {
				t.Fatal("r.Body replaced although the headers were incomplete")
			}
		})
	}
	t.Run("too old", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{specSecret}, NowFunc: clock(time.Unix(specTimestamp+301, 0))}
		_, err := v.VerifyStandardRequest(newRequest(specPayload, header()))
		checkVerifyError(t, err, sign.ReasonTimestampTooOld, sign.HeaderWebhookTimestamp)
		want := "webhook-timestamp: timestamp too old: 1614265330 is 301s before now, tolerance 300s"
		if err.Error() != want {
			t.Fatalf("error = %q, want %q", err, want)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{specSecret}, NowFunc: now, MaxBodyBytes: 4}
		r := newRequest(specPayload, header())
		_, err := v.VerifyStandardRequest(r)
		checkVerifyError(t, err, sign.ReasonBodyTooLarge, "")
		if got := readAll(t, r); got != specPayload {
			t.Fatalf("r.Body = %q, want %q", got, specPayload)
		}
	})
	t.Run("bad secret", func(t *testing.T) {
		t.Parallel()
		v := &sign.Verifier{Secrets: []string{"whsec_%%%"}, NowFunc: now}
		_, err := v.VerifyStandardRequest(newRequest(specPayload, header()))
		checkVerifyError(t, err, sign.ReasonBadSecret, "")
		if want := "bad secret: secret 0: secret is not whsec_<base64>: illegal base64 data at input byte 0"; err.Error() != want {
			t.Fatalf("error = %q, want %q", err, want)
		}
	})
}

// TestVerifier_OverHTTP sends notifications signed both ways through a real
// loopback server whose handler verifies them and reads r.Body afterwards.
func TestVerifier_OverHTTP(t *testing.T) {
	t.Parallel()
	sent := time.Date(2022, 10, 1, 6, 54, 29, 512e6, time.UTC)
	newToken, err := sign.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	// The receiver is mid-rotation: it holds the new token and the old one.
	v := &sign.Verifier{Secrets: []string{newToken, testToken}, CheckAttemptTime: true, NowFunc: clock(sent.Add(time.Second))}

	type result struct {
		status int
		body   string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verify := v.VerifyRequest
		if r.URL.Path == "/standard" {
			verify = v.VerifyStandardRequest
		}
		if _, err := verify(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)

	post := func(t *testing.T, path string, setHeaders func(h http.Header)) result {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(notification))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		setHeaders(req.Header)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return result{resp.StatusCode, string(b)}
	}

	tests := []struct {
		name       string
		path       string
		setHeaders func(h http.Header)
		want       result
	}{
		{"fgwh, old token", "/fgwh", func(h http.Header) {
			h.Set(sign.Header, sign.Sign(testToken, []byte(notification)))
		}, result{200, notification}},
		{"fgwh, new token via Signer", "/fgwh", func(h http.Header) {
			h.Set(sign.Header, sign.NewSigner(newToken).Sign([]byte(notification)))
		}, result{200, notification}},
		{"fgwh, unknown token", "/fgwh", func(h http.Header) {
			h.Set(sign.Header, sign.Sign("whsec_stranger", []byte(notification)))
		}, result{400, "fg-webhook-signature: bad signature\n"}},
		{"standard, new and old", "/standard", func(h http.Header) {
			if err := sign.SetStandardHeaders(h, []string{newToken, testToken}, "whev_0123456789abcdef", sent, []byte(notification)); err != nil {
				t.Fatal(err)
			}
		}, result{200, notification}},
		{"standard, fgwh signature only", "/standard", func(h http.Header) {
			h.Set(sign.Header, sign.Sign(testToken, []byte(notification)))
		}, result{400, "webhook-id: missing header\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := post(t, tt.path, tt.setHeaders); got != tt.want {
				t.Fatalf("got %d %q, want %d %q", got.status, got.body, tt.want.status, tt.want.body)
			}
		})
	}
}

func TestVerifyError(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	tests := []struct {
		err  *sign.VerifyError
		want string
	}{
		{&sign.VerifyError{Reason: sign.ReasonBadSignature}, "bad signature"},
		{&sign.VerifyError{Reason: sign.ReasonMissingHeader, Header: sign.HeaderWebhookID}, "webhook-id: missing header"},
		{&sign.VerifyError{Reason: sign.ReasonMalformedBody, Err: cause}, "malformed body: cause"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	err := error(&sign.VerifyError{Reason: sign.ReasonMalformedBody, Err: cause})
	if !errors.Is(err, cause) || !errors.Is(err, sign.ErrMalformedBody) || errors.Is(err, sign.ErrBadSignature) {
		t.Fatalf("errors.Is on %v: want it to match its cause and ErrMalformedBody only", err)
	}
}
