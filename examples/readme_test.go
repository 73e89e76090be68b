package examples

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestREADMESnippets runs the Python and Node verification snippets of
// README.md ("Verifying in a receiver") against the Standard Webhooks test
// vector (see sign/standard_test.go) and an fgwh signature computed with
// openssl (see testdata/script/verify.txtar), so the documentation cannot
// drift from what fgwh sends.
func TestREADMESnippets(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, lang := range []string{"python", "js"} {
		m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindSubmatch(readme)
		if m == nil {
			t.Fatalf("README.md has no %s block", lang)
		}
		blocks[lang] = string(m[1])
	}
	// Each check prints true or false; the last two must fail.
	const want = "true\ntrue\nfalse\nfalse\n"
	tests := []struct {
		name, interp, lang, checks string
	}{
		{"python", "python3", "python", `
print(str(verify_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"test": 2432232314}', "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
    "v1,c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24h v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")).lower())
print(str(verify_fgwh("whsec_test", b'{"hello":"world"}\n', "f085813846004aa934fddd103f5bc655bf232078a92aab94d49aff602857e6c3")).lower())
print(str(verify_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"test": 2432232315}', "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")).lower())
print(str(verify_fgwh("whsec_test", b'{"hello":"World"}\n', "f085813846004aa934fddd103f5bc655bf232078a92aab94d49aff602857e6c3")).lower())
`},
		{"node", "node", "js", `
console.log(verifyStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Buffer.from('{"test": 2432232314}'), "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
  "v1,c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24h v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
console.log(verifyFgwh("whsec_test", Buffer.from('{"hello":"world"}\n'), "f085813846004aa934fddd103f5bc655bf232078a92aab94d49aff602857e6c3"));
console.log(verifyStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Buffer.from('{"test": 2432232315}'), "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
  "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
console.log(verifyFgwh("whsec_test", Buffer.from('{"hello":"World"}\n'), "f085813846004aa934fddd103f5bc655bf232078a92aab94d49aff602857e6c3"));
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(tt.interp); err != nil {
				t.Skipf("%s not found in PATH: the README's %s snippet is not tested", tt.interp, tt.name)
			}
			cmd := exec.Command(tt.interp, "-")
			cmd.Stdin = strings.NewReader(blocks[tt.lang] + tt.checks)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tt.interp, err, out)
			}
			if string(out) != want {
				t.Fatalf("snippet checks printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}
