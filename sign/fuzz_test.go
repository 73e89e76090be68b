package sign_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fgwh/fgwh/sign"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; go test runs them.
// Explore further with: go test -fuzz FuzzVerify -fuzztime 1m ./sign

// FuzzVerify checks the fgwh scheme against a plain oracle: a signature
// verifies exactly when it spells Sign's hex in any case, for Verify and for
// a Verifier alike, and Signer agrees with Sign.
func FuzzVerify(f *testing.F) {
	f.Add(testToken, []byte(notification), knownAnswers[0].want)
	f.Fuzz(func(t *testing.T, token string, body []byte, sig string) {
		want := sign.Sign(token, body)
		if got := sign.NewSigner(token).Sign(body); got != want {
			t.Fatalf("Signer.Sign = %s, Sign = %s", got, want)
		}
		if !sign.Verify(token, body, want) {
			t.Fatal("Verify(Sign) = false")
		}
		ok := strings.EqualFold(sig, want)
		if got := sign.Verify(token, body, sig); got != ok {
			t.Fatalf("Verify(%q) = %v, want %v", sig, got, ok)
		}
		err := (&sign.Verifier{Secrets: []string{token}}).Verify(body, sig)
		if (err == nil) != (ok && token != "") {
			t.Fatalf("Verifier.Verify(%q) = %v, want success %v", sig, err, ok && token != "")
		}
		checkIsVerifyError(t, err)
	})
}

// FuzzVerifyStandard feeds arbitrary header values to VerifyStandard, which
// must answer nil or a *VerifyError, and checks that whatever SignStandard
// signs verifies, even next to fuzzed signatures.
func FuzzVerifyStandard(f *testing.F) {
	f.Add(specSecret, specMsgID, "1614265330", specSignature, []byte(specPayload), int64(specTimestamp))
	f.Fuzz(func(t *testing.T, secret, msgID, timestamp, sigs string, body []byte, now int64) {
		v := &sign.Verifier{Secrets: []string{secret}, NowFunc: clock(time.Unix(now, 0))}
		checkIsVerifyError(t, v.VerifyStandard(msgID, timestamp, sigs, body))

		n, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil || n < 0 {
			return
		}
		sig, err := sign.SignStandard(secret, msgID, time.Unix(n, 0), body)
		if err != nil {
			return
		}
		v.NowFunc = clock(time.Unix(n, 0))
		for _, h := range []string{sig, sigs + " " + sig, sig + " " + sigs} {
			if err := v.VerifyStandard(msgID, strconv.FormatInt(n, 10), h, body); err != nil {
				t.Fatalf("VerifyStandard(%q) of a signed message: %v", h, err)
			}
		}
	})
}

// FuzzVerifyAttemptTime feeds arbitrary, correctly signed bodies to the
// deliveryAttemptedAt check, which may reject them only for their content.
func FuzzVerifyAttemptTime(f *testing.F) {
	f.Add([]byte(notification), int64(1664607269512), int64(300))
	f.Fuzz(func(t *testing.T, body []byte, nowMilli, toleranceSeconds int64) {
		v := &sign.Verifier{
			Secrets:          []string{testToken},
			CheckAttemptTime: true,
			Tolerance:        time.Duration(toleranceSeconds) * time.Second,
			NowFunc:          clock(time.UnixMilli(nowMilli)),
		}
		err := v.Verify(body, sign.Sign(testToken, body))
		checkIsVerifyError(t, err)
		switch reason := reasonOf(err); reason {
		case "", sign.ReasonMalformedBody, sign.ReasonTimestampTooOld, sign.ReasonTimestampTooNew:
		default:
			t.Fatalf("Verify of a signed body: %v (reason %s)", err, reason)
		}
	})
}

func checkIsVerifyError(t *testing.T, err error) {
	t.Helper()
	var verr *sign.VerifyError
	if err != nil && !errors.As(err, &verr) {
		t.Fatalf("error %v (%T) is not a *VerifyError", err, err)
	}
	if err != nil && err.Error() == "" {
		t.Fatal("empty error message")
	}
}

func reasonOf(err error) sign.Reason {
	var verr *sign.VerifyError
	if errors.As(err, &verr) {
		return verr.Reason
	}
	return ""
}
