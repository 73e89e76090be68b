package sign_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
)

// The Standard Webhooks test vector published with the reference libraries:
// TestWebhookSign in standard-webhooks/standard-webhooks
// libraries/go/webhook_test.go, and the same values in "sign function works"
// (libraries/javascript/src/webhook.test.ts) and test_sign_function
// (libraries/python/tests/test_webhooks.py). Checked with OpenSSL 3.0 too:
//
//	printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
//	  openssl dgst -sha256 -binary -mac HMAC \
//	    -macopt hexkey:$(printf '%s' MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d | xxd -p -c 256) |
//	  base64
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// otherSecret is a second valid secret, for rotation cases.
const otherSecret = "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24h"

func TestSignStandard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		msgID  string
		ts     time.Time
		body   string
		want   string
	}{
		{"spec vector", specSecret, specMsgID, time.Unix(specTimestamp, 0), specPayload, specSignature},
		{"secret without whsec_ prefix", strings.TrimPrefix(specSecret, "whsec_"), specMsgID, time.Unix(specTimestamp, 0), specPayload, specSignature},
		{"fraction of a second dropped", specSecret, specMsgID, time.Unix(specTimestamp, 999_999_999), specPayload, specSignature},
		{"time zone irrelevant", specSecret, specMsgID, time.Unix(specTimestamp, 0).In(time.FixedZone("X", 5*3600)), specPayload, specSignature},
		{
			// printf '%s' "whev_0123456789abcdef.1664607269.$notification" |
			//   openssl dgst -sha256 -binary -mac HMAC -macopt hexkey:31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0 | base64
			name:   "fgwh notification",
			secret: testToken,
			msgID:  "whev_0123456789abcdef",
			ts:     time.Date(2022, 10, 1, 6, 54, 29, 512e6, time.UTC),
			body:   notification,
			want:   "v1,O2v/PJy51kh9H6wNyvPqFReOtxjjl+pZNfREJb94eBg=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sign.SignStandard(tt.secret, tt.msgID, tt.ts, []byte(tt.body))
			if err != nil {
				t.Fatalf("SignStandard: %v", err)
			}
			if got != tt.want {
				t.Fatalf("SignStandard = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSignStandard_Errors(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	tests := []struct {
		name   string
		secret string
		msgID  string
		want   string
	}{
		{"secret not base64", "whsec_not base64!", specMsgID, "sign standard: secret is not whsec_<base64>: illegal base64 data at input byte 3"},
		{"secret empty", "", specMsgID, "sign standard: secret is empty"},
		{"secret only prefix", "whsec_", specMsgID, "sign standard: secret is empty"},
		{"message id empty", specSecret, "", "sign standard: message id is empty"},
		{"message id with dot", specSecret, "msg.1", `sign standard: message id "msg.1" contains '.'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sign.SignStandard(tt.secret, tt.msgID, ts, []byte(specPayload))
			if err == nil {
				t.Fatalf("SignStandard = %q, want error", got)
			}
			if err.Error() != tt.want {
				t.Fatalf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestStandardSignatureHeader(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	other, err := sign.SignStandard(otherSecret, specMsgID, ts, []byte(specPayload))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("one secret", func(t *testing.T) {
		t.Parallel()
		got, err := sign.StandardSignatureHeader([]string{specSecret}, specMsgID, ts, []byte(specPayload))
		if err != nil || got != specSignature {
			t.Fatalf("StandardSignatureHeader = %q, %v; want %q", got, err, specSignature)
		}
	})
	t.Run("rotation signs with each secret in order", func(t *testing.T) {
		t.Parallel()
		got, err := sign.StandardSignatureHeader([]string{otherSecret, specSecret}, specMsgID, ts, []byte(specPayload))
		if want := other + " " + specSignature; err != nil || got != want {
			t.Fatalf("StandardSignatureHeader = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("no secrets", func(t *testing.T) {
		t.Parallel()
		_, err := sign.StandardSignatureHeader(nil, specMsgID, ts, []byte(specPayload))
		if want := "sign standard: no secrets"; err == nil || err.Error() != want {
			t.Fatalf("error = %v, want %q", err, want)
		}
	})
	t.Run("one bad secret", func(t *testing.T) {
		t.Parallel()
		_, err := sign.StandardSignatureHeader([]string{specSecret, "whsec_"}, specMsgID, ts, []byte(specPayload))
		if want := "sign standard: secret 1: secret is empty"; err == nil || err.Error() != want {
			t.Fatalf("error = %v, want %q", err, want)
		}
	})
}

func TestSetStandardHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set(sign.HeaderWebhookSignature, "v1,stale")
	err := sign.SetStandardHeaders(h, []string{specSecret}, specMsgID, time.Unix(specTimestamp, 0), []byte(specPayload))
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"Webhook-Id":        {specMsgID},
		"Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {specSignature},
	}
	if len(h) != len(want) {
		t.Fatalf("headers = %v, want %v", h, want)
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v[0] {
			t.Fatalf("%s = %q, want %q", k, got, v)
		}
	}

	t.Run("error leaves headers alone", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		if err := sign.SetStandardHeaders(h, nil, specMsgID, time.Unix(specTimestamp, 0), nil); err == nil {
			t.Fatal("SetStandardHeaders without secrets: no error")
		}
		if len(h) != 0 {
			t.Fatalf("headers = %v, want none", h)
		}
	})
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	a, err := sign.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two tokens are equal: %s", a)
	}
	for _, tok := range []string{a, b} {
		if len(tok) != len("whsec_")+44 || !strings.HasPrefix(tok, "whsec_") {
			t.Fatalf("token %q: want whsec_ and 44 base64 characters", tok)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(tok, "whsec_"))
		if err != nil || len(key) != sign.TokenBytes {
			t.Fatalf("token %q decodes to %d bytes, %v; want %d", tok, len(key), err, sign.TokenBytes)
		}
	}
	// One token serves both schemes.
	now := time.Unix(specTimestamp, 0)
	v := &sign.Verifier{Secrets: []string{a}, NowFunc: func() time.Time { return now }}
	if err := v.Verify([]byte(notification), sign.Sign(a, []byte(notification))); err != nil {
		t.Fatalf("fgwh scheme: %v", err)
	}
	sig, err := sign.SignStandard(a, specMsgID, now, []byte(notification))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyStandard(specMsgID, "1614265330", sig, []byte(notification)); err != nil {
		t.Fatalf("standard scheme: %v", err)
	}
}
