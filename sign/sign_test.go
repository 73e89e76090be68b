package sign_test

import (
	"strings"
	"testing"

	"github.com/fgwh/fgwh/sign"
)

// notification is an fgwh notification body in the shape SPEC.md fixes.
const notification = `{"timestamp":"2022-10-01T06:54:29.078Z","deliveryAttemptedAt":"2022-10-01T06:54:29.512Z","webhookId":"whk_0123456789abcdef","eventId":"whev_0123456789abcdef","payload":{"type":"recording.imported","recordingId":"rec_0dX9WCM7yA8mkCtZ"}}`

// testToken is a token in the form NewToken makes.
const testToken = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// knownAnswers were computed independently of this package, with OpenSSL 3.0:
//
//	printf '%s' "$body" | openssl dgst -sha256 -hmac "$token"
var knownAnswers = []struct {
	name  string
	token string
	body  string
	want  string
}{
	{
		name:  "notification",
		token: testToken,
		body:  notification,
		// printf '%s' '{"timestamp":…}' | openssl dgst -sha256 -hmac 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
		want: "947b1d375237069b074eb7ebefe9d82bd9c5e014287e80667be4dd34d6671b31",
	},
	{
		name:  "empty body",
		token: "key",
		body:  "",
		// printf '' | openssl dgst -sha256 -hmac 'key'
		want: "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0",
	},
	{
		name:  "text",
		token: "key",
		body:  "The quick brown fox jumps over the lazy dog",
		// printf '%s' 'The quick brown fox jumps over the lazy dog' | openssl dgst -sha256 -hmac 'key'
		want: "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
	},
	{
		name:  "non-ASCII token is keyed by its UTF-8 bytes",
		token: "tökén",
		body:  "hello",
		// printf '%s' 'hello' | openssl dgst -sha256 -hmac 'tökén'   (in a UTF-8 shell)
		want: "6c182b997c8725a756a95b250062199f2429339459057fb4f9178612156479bd",
	},
}

func TestSign(t *testing.T) {
	t.Parallel()
	for _, tt := range knownAnswers {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sign.Sign(tt.token, []byte(tt.body)); got != tt.want {
				t.Fatalf("Sign = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSigner_Sign(t *testing.T) {
	t.Parallel()
	for _, tt := range knownAnswers {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := sign.NewSigner(tt.token)
			// Sign twice, with another body in between, to show that the
			// reused hasher carries no state from one body to the next.
			for i := range 2 {
				if got := s.Sign([]byte(tt.body)); got != tt.want {
					t.Fatalf("call %d: Sign = %s, want %s", i, got, tt.want)
				}
				s.Sign([]byte("something else"))
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(notification)
	good := sign.Sign(testToken, body)
	flipped := []byte(notification)
	flipped[len(flipped)/2] ^= 0x01

	tests := []struct {
		name  string
		token string
		body  []byte
		sig   string
		want  bool
	}{
		{"round trip", testToken, body, good, true},
		{"upper-case hex accepted", testToken, body, strings.ToUpper(good), true},
		{"known answer", testToken, body, knownAnswers[0].want, true},
		{"changed body byte", testToken, flipped, good, false},
		{"trailing newline added to body", testToken, append([]byte(notification), '\n'), good, false},
		{"changed key", testToken + "x", body, good, false},
		{"key without whsec_ prefix", strings.TrimPrefix(testToken, "whsec_"), body, good, false},
		{"truncated signature", testToken, body, good[:len(good)-2], false},
		{"odd-length signature", testToken, body, good[:len(good)-1], false},
		{"extended signature", testToken, body, good + "00", false},
		{"non-hex signature", testToken, body, "zz" + good[2:], false},
		{"signature with surrounding space", testToken, body, " " + good, false},
		{"sha256= prefix", testToken, body, "sha256=" + good, false},
		{"empty signature", testToken, body, "", false},
		{"empty body and signature", testToken, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sign.Verify(tt.token, tt.body, tt.sig); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerify_RoundTrip(t *testing.T) {
	t.Parallel()
	// Bodies of every length around the SHA-256 block size (64 bytes) and
	// HMAC's key-hashing threshold, signed with Sign and a Signer.
	for n := range 200 {
		body := []byte(strings.Repeat("x", n))
		token := strings.Repeat("k", n)
		s := sign.NewSigner(token)
		sig := s.Sign(body)
		if want := sign.Sign(token, body); sig != want {
			t.Fatalf("n=%d: Signer.Sign = %s, Sign = %s", n, sig, want)
		}
		if !sign.Verify(token, body, sig) {
			t.Fatalf("n=%d: Verify(Sign) = false", n)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat(notification, 2)[:400])
	b.Run("Sign", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			sign.Sign(testToken, body)
		}
	})
	b.Run("Signer", func(b *testing.B) {
		s := sign.NewSigner(testToken)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			s.Sign(body)
		}
	})
}
