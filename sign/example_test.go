package sign_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/fgwh/fgwh/sign"
)

func ExampleSign() {
	body := []byte(`{"eventId":"whev_0123456789abcdef"}`)
	fmt.Println(sign.Header + ": " + sign.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", body))
	// Output:
	// fg-webhook-signature: 846ddf45a77c7af51a48d48b751e8dd9d691f6c2b2ca4996ec0fcef0890c7cf8
}

func ExampleVerify() {
	token := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"eventId":"whev_0123456789abcdef"}`)
	sig := sign.Sign(token, body)

	fmt.Println(sign.Verify(token, body, sig))
	fmt.Println(sign.Verify(token, body, strings.ToUpper(sig)))
	fmt.Println(sign.Verify(token, []byte(`{"eventId":"whev_forged"}`), sig))
	// Output:
	// true
	// true
	// false
}

func ExampleNewSigner() {
	// A sender that signs many bodies with one token reuses a Signer (one
	// per goroutine).
	s := sign.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		sig := s.Sign([]byte(body))
		fmt.Println(sig == sign.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", []byte(body)))
	}
	// Output:
	// true
	// true
}

func ExampleNewToken() {
	token, err := sign.NewToken()
	if err != nil {
		panic(err)
	}
	fmt.Println(token[:6], len(token))
	// Output:
	// whsec_ 50
}

func ExampleSignStandard() {
	// The test vector of the Standard Webhooks reference libraries.
	sig, err := sign.SignStandard(
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`),
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleStandardSignatureHeader() {
	// While rotating, sign with the new secret and the previous one.
	secrets := []string{
		"whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24h", // new
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",     // previous
	}
	h, err := sign.StandardSignatureHeader(secrets, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		panic(err)
	}
	for _, sig := range strings.Fields(h) {
		fmt.Println(sig)
	}
	// Output:
	// v1,xrYJt8Slj6nWBb7Cbi4Eg+WESyTmKEPbiQibQ2avyoo=
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleSetStandardHeaders() {
	body := []byte(`{"test": 2432232314}`)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8787/hooks", strings.NewReader(string(body)))
	if err != nil {
		panic(err)
	}
	// The message id stays the same across retries; the timestamp is the
	// attempt's.
	err = sign.SetStandardHeaders(req.Header, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		"msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	if err != nil {
		panic(err)
	}
	for _, name := range []string{sign.HeaderWebhookID, sign.HeaderWebhookTimestamp, sign.HeaderWebhookSignature} {
		fmt.Printf("%s: %s\n", name, req.Header.Get(name))
	}
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// A receiver verifies each fgwh notification before it trusts the body.
func ExampleVerifier_VerifyRequest() {
	token := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := &sign.Verifier{
		Secrets:          []string{token},
		CheckAttemptTime: true,
		// Real receivers leave NowFunc nil; the example fixes the clock.
		NowFunc: func() time.Time { return time.Date(2022, 10, 1, 6, 55, 0, 0, time.UTC) },
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.VerifyRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "verified %d bytes", len(body))
	})

	body := `{"deliveryAttemptedAt":"2022-10-01T06:54:29.512Z","eventId":"whev_0123456789abcdef"}`
	for _, sig := range []string{sign.Sign(token, []byte(body)), sign.Sign("whsec_wrong", []byte(body))} {
		r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
		r.Header.Set(sign.Header, sig)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 verified 84 bytes
	// 400 fg-webhook-signature: bad signature
}

func ExampleVerifier_VerifyStandardRequest() {
	v := &sign.Verifier{
		// The new secret and the previous one, while rotating.
		Secrets: []string{"whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24h", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		NowFunc: func() time.Time { return time.Unix(1614265330+60, 0) },
	}
	r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(`{"test": 2432232314}`))
	r.Header.Set(sign.HeaderWebhookID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	r.Header.Set(sign.HeaderWebhookTimestamp, "1614265330")
	r.Header.Set(sign.HeaderWebhookSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	body, err := v.VerifyStandardRequest(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := io.ReadAll(r.Body) // the body is still there for the handler
	fmt.Println(string(body) == string(again), r.Header.Get(sign.HeaderWebhookID))
	// Output:
	// true msg_p5jXN8AQM9LWM0D4loKWxJek
}

func ExampleVerifier_VerifyStandard() {
	v := &sign.Verifier{
		Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		NowFunc: func() time.Time { return time.Unix(1614265330, 0).Add(10 * time.Minute) },
	}
	err := v.VerifyStandard("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, sign.ErrTimestampTooOld))
	// Output:
	// webhook-timestamp: timestamp too old: 1614265330 is 600s before now, tolerance 300s
	// true
}

// Receivers tell failures apart by Reason, or with errors.Is.
func ExampleVerifyError() {
	v := &sign.Verifier{Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	for _, sig := range []string{"", "not hex", strings.Repeat("0", 64)} {
		err := v.Verify([]byte(`{}`), sig)
		var verr *sign.VerifyError
		if errors.As(err, &verr) {
			fmt.Printf("%-16s %s\n", verr.Reason, err)
		}
		if errors.Is(err, sign.ErrBadSignature) {
			fmt.Println("wrong token, or the body was changed on the way")
		}
	}
	// Output:
	// missing_header   fg-webhook-signature: missing header
	// malformed_header fg-webhook-signature: malformed header: want 64 hex digits, got "not hex"
	// bad_signature    fg-webhook-signature: bad signature
	// wrong token, or the body was changed on the way
}
