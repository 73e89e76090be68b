package deliver

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer answers 200 on 127.0.0.1 and, when the machine has IPv6
// loopback, on [::1] at the same port, and counts every request it gets.
type countingServer struct {
	port  string
	has6  bool
	count atomic.Int64
}

func startCountingServer(t *testing.T) *countingServer {
	t.Helper()
	s := &countingServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, s.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	if l6, err := net.Listen("tcp", net.JoinHostPort("::1", s.port)); err == nil {
		s.has6 = true
		srv6 := &http.Server{Handler: h}
		go srv6.Serve(l6)
		t.Cleanup(func() { srv6.Close() })
	}
	return s
}

// ssrfTrick is one way of writing a URL that leads to this machine.
type ssrfTrick struct {
	name string
	host string // the URL's host, without the port
	// numeric is set for host names that Go's own resolver refuses without
	// asking DNS (its last label is all digits) but that libc's getaddrinfo
	// reads as an IPv4 address (inet_aton forms): with the cgo resolver they
	// resolve to 127.0.0.1 without any DNS query.
	numeric bool
	// code is the error code without --allow-private-networks, with Go's
	// resolver.
	code string
	// reason is the start of the blocked_address message, e.g.
	// "address 127.0.0.1 is loopback".
	reason string
	// dial says where the connection goes with private networks allowed:
	// "4" to 127.0.0.1, "6" to [::1], "" when it cannot reach this machine
	// (or would leave it), so the allowed run is skipped.
	dial string
}

var ssrfTricks = []ssrfTrick{
	{name: "decimal", host: "2130706433", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "decimal-leading-zeros", host: "017700000001", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "octal", host: "0177.0.0.1", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "octal-padded", host: "0177.0000.0000.0001", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "hex-dotted", host: "0x7f.0.0.1", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "hex-whole", host: "0x7f000001", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "short-two-parts", host: "127.1", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "short-three-parts", host: "127.0.1", numeric: true, code: ErrCodeDNS, dial: "4"},
	{name: "zero", host: "0", numeric: true, code: ErrCodeDNS, dial: "4"},
	// getaddrinfo sends this one to DNS, so it is not numeric.
	{name: "ipv4-trailing-dot", host: "127.0.0.1.", code: ErrCodeDNS},
	{name: "ipv4", host: "127.0.0.1", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "ipv4-other-loopback", host: "127.9.9.9", code: ErrCodeBlockedAddress, reason: "address 127.9.9.9 is loopback"},
	{name: "unspecified-ipv4", host: "0.0.0.0", code: ErrCodeBlockedAddress, reason: "address 0.0.0.0 is unspecified", dial: "4"},
	{name: "fullwidth-digits", host: "１２７.０.０.１", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "localhost", host: "localhost", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "localhost-trailing-dot", host: "localhost.", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "localhost-upper-case", host: "LocalHost.", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "name-resolving-to-loopback", host: "rebind.fgwh.test", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "name-resolving-to-loopback-trailing-dot", host: "rebind.fgwh.test.", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "name-resolving-to-private", host: "private.fgwh.test", code: ErrCodeBlockedAddress, reason: "address 10.0.0.1 is private"},
	{name: "name-resolving-to-metadata", host: "metadata.fgwh.test", code: ErrCodeBlockedAddress, reason: "address 169.254.169.254 is link-local"},
	{name: "userinfo-before-loopback", host: "example.com@127.0.0.1", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "ipv6-loopback", host: "[::1]", code: ErrCodeBlockedAddress, reason: "address ::1 is loopback", dial: "6"},
	{name: "ipv6-loopback-zone", host: "[::1%25lo]", code: ErrCodeBlockedAddress, reason: "address ::1%lo is loopback", dial: "6"},
	{name: "ipv6-loopback-long", host: "[0:0:0:0:0:0:0:1]", code: ErrCodeBlockedAddress, reason: "address ::1 is loopback", dial: "6"},
	{name: "ipv6-link-local-zone-lo", host: "[fe80::1%25lo]", code: ErrCodeBlockedAddress, reason: "address fe80::1%lo is link-local"},
	{name: "ipv6-link-local-zone-eth0", host: "[fe80::1%25eth0]", code: ErrCodeBlockedAddress, reason: "address fe80::1%eth0 is link-local"},
	{name: "ipv6-link-local-zone-index", host: "[fe80::1%251]", code: ErrCodeBlockedAddress, reason: "address fe80::1%1 is link-local"},
	{name: "ipv6-unspecified", host: "[::]", code: ErrCodeBlockedAddress, reason: "address :: is unspecified", dial: "6"},
	{name: "ipv4-mapped-dotted", host: "[::ffff:127.0.0.1]", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "ipv4-mapped-hex", host: "[::ffff:7f00:1]", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "ipv4-mapped-long", host: "[0:0:0:0:0:ffff:127.0.0.1]", code: ErrCodeBlockedAddress, reason: "address 127.0.0.1 is loopback", dial: "4"},
	{name: "ipv4-mapped-unspecified", host: "[::ffff:0.0.0.0]", code: ErrCodeBlockedAddress, reason: "address 0.0.0.0 is unspecified", dial: "4"},
	{name: "ipv4-compatible", host: "[::127.0.0.1]", code: ErrCodeBlockedAddress, reason: "address ::7f00:1 is loopback (IPv4-compatible 127.0.0.1)"},
	{name: "nat64", host: "[64:ff9b::7f00:1]", code: ErrCodeBlockedAddress, reason: "address 64:ff9b::7f00:1 is loopback (NAT64 of 127.0.0.1)"},
	{name: "6to4", host: "[2002:7f00:1::]", code: ErrCodeBlockedAddress, reason: "address 2002:7f00:1:: is loopback (6to4 of 127.0.0.1)"},
	{name: "percent-encoded-host", host: "%31%32%37.0.0.1", code: ErrCodeInvalidURL},
}

// ssrfStub resolves test names; every other name is unknown. Go's resolver
// never sends the numeric forms to it.
func ssrfStub(t *testing.T) *net.Resolver {
	t.Helper()
	return startDNSStub(t, map[string]netip.Addr{
		"rebind.fgwh.test.":   netip.MustParseAddr("127.0.0.1"),
		"private.fgwh.test.":  netip.MustParseAddr("10.0.0.1"),
		"metadata.fgwh.test.": netip.MustParseAddr("169.254.169.254"),
		// In case /etc/hosts does not name localhost.
		"localhost.": netip.MustParseAddr("127.0.0.1"),
	}).resolver()
}

// TestClient_Send_SSRFTricks sends to every spelling of this machine we know
// of. Without AllowPrivate none may reach the server; with it, those that
// lead to 127.0.0.1 or ::1 do.
func TestClient_Send_SSRFTricks(t *testing.T) {
	t.Parallel()
	srv := startCountingServer(t)
	resolver := ssrfStub(t)
	blocked := newTestClient(t, ClientOptions{Resolver: resolver})
	allowed := newTestClient(t, ClientOptions{AllowPrivate: true, Resolver: resolver})
	for _, tc := range ssrfTricks {
		url := "http://" + tc.host + ":" + srv.port + "/hook"
		t.Run("Blocked/"+tc.name, func(t *testing.T) {
			srv.checkRefused(t, blocked, url, tc.code, tc.reason)
		})
		if tc.dial == "" || tc.numeric {
			continue
		}
		t.Run("Allowed/"+tc.name, func(t *testing.T) {
			if tc.dial == "6" && !srv.has6 {
				t.Skip("no IPv6 loopback on this machine")
			}
			srv.checkReached(t, allowed, url)
		})
	}
}

// TestClient_Send_SSRFTricksCgoResolver runs the numeric forms through the
// libc resolver (getaddrinfo), which reads them as 127.0.0.1, in a child
// process started with GODEBUG=netdns=cgo. Without cgo the child falls back
// to Go's resolver and the names stay unresolved; either way nothing may
// reach the server without AllowPrivate. No DNS query is sent: getaddrinfo
// parses these names itself, and Go's resolver refuses them.
func TestClient_Send_SSRFTricksCgoResolver(t *testing.T) {
	if os.Getenv("FGWH_TEST_CGO_RESOLVER") != "1" {
		t.Parallel()
		cmd := exec.Command(os.Args[0], "-test.run=^TestClient_Send_SSRFTricksCgoResolver$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "FGWH_TEST_CGO_RESOLVER=1", "GODEBUG=netdns=cgo")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child with the cgo resolver: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestClient_Send_SSRFTricksCgoResolver") {
			t.Fatalf("child did not run the test:\n%s", out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "resolved to") {
				t.Log(strings.TrimSpace(line))
			}
		}
		return
	}
	srv := startCountingServer(t)
	blocked := newTestClient(t, ClientOptions{Resolver: net.DefaultResolver})
	allowed := newTestClient(t, ClientOptions{AllowPrivate: true, Resolver: net.DefaultResolver})
	for _, tc := range ssrfTricks {
		if !tc.numeric {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", tc.host)
		cancel()
		// getaddrinfo reads "0" as 0.0.0.0, the rest as 127.0.0.1.
		reasons := map[netip.Addr]string{
			netip.MustParseAddr("127.0.0.1"): "address 127.0.0.1 is loopback",
			netip.MustParseAddr("0.0.0.0"):   "address 0.0.0.0 is unspecified",
		}
		var reason string
		if err == nil && len(addrs) == 1 {
			reason = reasons[addrs[0]]
		}
		resolved := reason != ""
		t.Logf("%s: resolved to %v (%v)", tc.host, addrs, err)
		url := "http://" + tc.host + ":" + srv.port + "/hook"
		t.Run("Blocked/"+tc.name, func(t *testing.T) {
			if resolved {
				srv.checkRefused(t, blocked, url, ErrCodeBlockedAddress, reason)
			} else {
				srv.checkRefused(t, blocked, url, ErrCodeDNS, "")
			}
		})
		if resolved {
			t.Run("Allowed/"+tc.name, func(t *testing.T) {
				srv.checkReached(t, allowed, url)
			})
		}
	}
}

// checkRefused sends to url and checks that the server got nothing and the
// outcome failed with code, and with an error starting with reason if set.
func (s *countingServer) checkRefused(t *testing.T, c *Client, url, code, reason string) {
	t.Helper()
	before := s.count.Load()
	out := c.Send(context.Background(), testRequest(url), testNow)
	if n := s.count.Load() - before; n != 0 {
		t.Fatalf("server got %d requests for %s, want 0", n, url)
	}
	if out.Succeeded() || out.StatusCode != 0 || out.ErrorCode != code {
		t.Fatalf("outcome for %s = status %d, code %q, error %q; want status 0, code %q",
			url, out.StatusCode, out.ErrorCode, out.Error, code)
	}
	if reason != "" && !strings.HasPrefix(out.Error, reason+"; deliveries to private networks are refused") {
		t.Fatalf("error for %s = %q, want it to start with %q", url, out.Error, reason)
	}
}

// checkReached sends to url and checks that it got 200 from the server, once.
func (s *countingServer) checkReached(t *testing.T, c *Client, url string) {
	t.Helper()
	before := s.count.Load()
	out := c.Send(context.Background(), testRequest(url), testNow)
	if !out.Succeeded() || out.StatusCode != http.StatusOK {
		t.Fatalf("outcome for %s = status %d, code %q, error %q; want 200", url, out.StatusCode, out.ErrorCode, out.Error)
	}
	if n := s.count.Load() - before; n != 1 {
		t.Fatalf("server got %d requests for %s, want 1", n, url)
	}
}
