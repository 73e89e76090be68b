package cmd

import (
	"strings"
	"testing"
)

// TestDeliverCmd_MetricsAddr: --metrics-addr wins over FGWH_METRICS_ADDR,
// and either is checked as HOST:PORT.
func TestDeliverCmd_MetricsAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  string
		want string
		err  string
	}{
		{want: ""},
		{env: "127.0.0.1:9464", want: "127.0.0.1:9464"},
		{args: []string{"--metrics-addr", ":9500"}, env: "127.0.0.1:9464", want: ":9500"},
		{args: []string{"--metrics-addr", "[::1]:0"}, want: "[::1]:0"},
		{args: []string{"--metrics-addr", "127.0.0.1:9464"}, env: "bad", want: "127.0.0.1:9464"},
		{env: "9464", err: `invalid FGWH_METRICS_ADDR "9464": address 9464: missing port in address`},
		{args: []string{"--metrics-addr", "127.0.0.1:-1"}, err: `invalid --metrics-addr "127.0.0.1:-1": port "-1" is not a number from 0 to 65535`},
	} {
		t.Run(strings.Join(tc.args, " ")+" env="+tc.env, func(t *testing.T) {
			t.Parallel()
			io, _, _, _ := TestIO()
			app := NewApp(io)
			app.Getenv = func(k string) string {
				if k == "FGWH_METRICS_ADDR" {
					return tc.env
				}
				return ""
			}
			var got *DeliverOptions
			c := deliverCmd(app, func(o *DeliverOptions) error { got = o; return nil })
			c.SetArgs(tc.args)
			c.SetOut(io.Out)
			c.SetErr(io.ErrOut)
			err := c.Execute()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || exitCode(err) != ExitUsage {
					t.Fatalf("error %v, want usage error %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MetricsAddr != tc.want {
				t.Fatalf("metrics address %q, want %q", got.MetricsAddr, tc.want)
			}
		})
	}
}
