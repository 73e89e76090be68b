package deliver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr   string
		reason string // "" means allowed
		via    string
	}{
		// IPv4.
		{"127.0.0.1", ReasonLoopback, ""},
		{"127.255.255.254", ReasonLoopback, ""},
		{"10.0.0.1", ReasonPrivate, ""},
		{"10.255.255.255", ReasonPrivate, ""},
		{"172.16.0.1", ReasonPrivate, ""},
		{"172.31.255.255", ReasonPrivate, ""},
		{"172.15.255.255", "", ""},
		{"172.32.0.0", "", ""},
		{"192.168.1.1", ReasonPrivate, ""},
		{"192.169.0.1", "", ""},
		{"169.254.169.254", ReasonLinkLocal, ""},
		{"169.254.0.1", ReasonLinkLocal, ""},
		{"0.0.0.0", ReasonUnspecified, ""},
		{"0.1.2.3", ReasonThisNetwork, ""},
		{"100.64.0.1", ReasonShared, ""},
		{"100.127.255.255", ReasonShared, ""},
		{"100.63.255.255", "", ""},
		{"100.128.0.0", "", ""},
		{"224.0.0.1", ReasonMulticast, ""},
		{"239.255.255.250", ReasonMulticast, ""},
		{"255.255.255.255", ReasonBroadcast, ""},
		{"1.1.1.1", "", ""},
		{"8.8.8.8", "", ""},
		{"93.184.216.34", "", ""},
		// IPv6.
		{"::1", ReasonLoopback, ""},
		{"::", ReasonUnspecified, ""},
		{"fc00::1", ReasonPrivate, ""},
		{"fd12:3456:789a::1", ReasonPrivate, ""},
		{"fe80::1", ReasonLinkLocal, ""},
		{"febf::1", ReasonLinkLocal, ""},
		{"fec0::1", "", ""},
		{"ff02::1", ReasonMulticast, ""},
		{"ff05::1:3", ReasonMulticast, ""},
		{"2606:4700:4700::1111", "", ""},
		{"2001:4860:4860::8888", "", ""},
		{"64:ff9b:1::1", ReasonPrivate, ""},
		// Zones are ignored.
		{"fe80::1%eth0", ReasonLinkLocal, ""},
		{"ff02::1%lo", ReasonMulticast, ""},
		{"2606:4700::1%eth0", "", ""},
		// IPv4-mapped.
		{"::ffff:127.0.0.1", ReasonLoopback, "IPv4-mapped 127.0.0.1"},
		{"::ffff:7f00:1", ReasonLoopback, "IPv4-mapped 127.0.0.1"},
		{"::ffff:10.1.2.3", ReasonPrivate, "IPv4-mapped 10.1.2.3"},
		{"::ffff:169.254.169.254", ReasonLinkLocal, "IPv4-mapped 169.254.169.254"},
		{"::ffff:0.0.0.0", ReasonUnspecified, "IPv4-mapped 0.0.0.0"},
		{"::ffff:255.255.255.255", ReasonBroadcast, "IPv4-mapped 255.255.255.255"},
		{"::ffff:8.8.8.8", "", ""},
		// IPv4-compatible (deprecated).
		{"::127.0.0.1", ReasonLoopback, "IPv4-compatible 127.0.0.1"},
		{"::192.168.0.1", ReasonPrivate, "IPv4-compatible 192.168.0.1"},
		{"::0.0.0.2", ReasonThisNetwork, "IPv4-compatible 0.0.0.2"},
		{"::8.8.8.8", "", ""},
		// NAT64.
		{"64:ff9b::127.0.0.1", ReasonLoopback, "NAT64 of 127.0.0.1"},
		{"64:ff9b::a9fe:a9fe", ReasonLinkLocal, "NAT64 of 169.254.169.254"},
		{"64:ff9b::100.64.0.1", ReasonShared, "NAT64 of 100.64.0.1"},
		{"64:ff9b::8.8.8.8", "", ""},
		// 6to4.
		{"2002:7f00:1::", ReasonLoopback, "6to4 of 127.0.0.1"},
		{"2002:c0a8:101::1", ReasonPrivate, "6to4 of 192.168.1.1"},
		{"2002:e000:1::1", ReasonMulticast, "6to4 of 224.0.0.1"},
		{"2002:808:808::1", "", ""},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			addr := netip.MustParseAddr(tc.addr)
			err := CheckAddr(addr)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("CheckAddr(%s) = %v, want nil", tc.addr, err)
				}
				return
			}
			var blocked *BlockedAddressError
			if !errors.As(err, &blocked) {
				t.Fatalf("CheckAddr(%s) = %v, want *BlockedAddressError", tc.addr, err)
			}
			if blocked.Reason != tc.reason || blocked.Via != tc.via || blocked.Addr != addr {
				t.Fatalf("CheckAddr(%s) = {%s %q %q}, want {%s %q %q}", tc.addr,
					blocked.Addr, blocked.Reason, blocked.Via, addr, tc.reason, tc.via)
			}
		})
	}
}

func TestCheckAddr_Invalid(t *testing.T) {
	t.Parallel()
	var blocked *BlockedAddressError
	if err := CheckAddr(netip.Addr{}); !errors.As(err, &blocked) || blocked.Reason != ReasonUnspecified {
		t.Fatalf("CheckAddr(zero) = %v, want unspecified", err)
	}
}

func TestBlockedAddressError_Error(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1", "address 127.0.0.1 is loopback; deliveries to private networks are refused (allow with --allow-private-networks or FGWH_ALLOW_PRIVATE_NETWORKS=1)"},
		{"::ffff:10.0.0.1", "address ::ffff:10.0.0.1 is private (IPv4-mapped 10.0.0.1); deliveries to private networks are refused (allow with --allow-private-networks or FGWH_ALLOW_PRIVATE_NETWORKS=1)"},
		{"fe80::1%eth0", "address fe80::1%eth0 is link-local; deliveries to private networks are refused (allow with --allow-private-networks or FGWH_ALLOW_PRIVATE_NETWORKS=1)"},
	} {
		err := CheckAddr(netip.MustParseAddr(tc.addr))
		if err == nil || err.Error() != tc.want {
			t.Errorf("CheckAddr(%s) = %v\nwant %s", tc.addr, err, tc.want)
		}
	}
}

func TestGuardControl(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		address string
		blocked bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"[fe80::1%eth0]:80", true},
		{"8.8.8.8:53", false},
		{"[2001:4860:4860::8888]:443", false},
		{"not-an-address", true},
	} {
		err := guardControl("tcp", tc.address, nil)
		if (err != nil) != tc.blocked {
			t.Errorf("guardControl(%q) = %v, want blocked %v", tc.address, err, tc.blocked)
		}
	}
}

// TestClient_Send_PrivateNetworks sends to a real server on 127.0.0.1 by IP,
// by the name localhost and by a name our DNS stub resolves to 127.0.0.1.
func TestClient_Send_PrivateNetworks(t *testing.T) {
	t.Parallel()
	srv, got := startReceiver(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := startDNSStub(t, map[string]netip.Addr{
		"rebind.fgwh.test.": netip.MustParseAddr("127.0.0.1"),
		// In case /etc/hosts does not name localhost.
		"localhost.": netip.MustParseAddr("127.0.0.1"),
	})

	const wantErr = "address 127.0.0.1 is loopback; deliveries to private networks are refused " +
		"(allow with --allow-private-networks or FGWH_ALLOW_PRIVATE_NETWORKS=1)"
	for _, host := range []string{"127.0.0.1", "localhost", "rebind.fgwh.test"} {
		url := "http://" + net.JoinHostPort(host, port) + "/hook"
		t.Run("Blocked/"+host, func(t *testing.T) {
			c := newTestClient(t, ClientOptions{Resolver: dns.resolver()})
			out := c.Send(context.Background(), testRequest(url), testNow)
			// localhost may also resolve to ::1, which is refused too.
			if out.ErrorCode != ErrCodeBlockedAddress || out.StatusCode != 0 ||
				!strings.HasPrefix(out.Error, "address ") || !strings.HasSuffix(out.Error, " is loopback; deliveries to private networks are refused (allow with --allow-private-networks or FGWH_ALLOW_PRIVATE_NETWORKS=1)") {
				t.Fatalf("outcome = status %d, code %q, error %q; want code %q, error %q", out.StatusCode, out.ErrorCode, out.Error, ErrCodeBlockedAddress, wantErr)
			}
			if host != "localhost" && out.Error != wantErr {
				t.Fatalf("Error = %q, want %q", out.Error, wantErr)
			}
			if n := len(got); n != 0 {
				t.Fatalf("receiver got %d requests, want 0", n)
			}
		})
		t.Run("Allowed/"+host, func(t *testing.T) {
			c := newTestClient(t, ClientOptions{AllowPrivate: true, Resolver: dns.resolver()})
			out := c.Send(context.Background(), testRequest(url), testNow)
			checkOutcome(t, out, http.StatusOK, "", "")
			if n := len(got); n != 1 {
				t.Fatalf("receiver got %d requests, want 1", n)
			}
			<-got
		})
	}
}

// FuzzCheckAddr checks that the verdict on an IPv4 address is the same for
// all its IPv6 forms, and that no input panics.
func FuzzCheckAddr(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			// Also read 4 or 16 raw bytes as an address.
			var ok bool
			if addr, ok = netip.AddrFromSlice([]byte(s)); !ok {
				return
			}
		}
		reason, _ := classify(addr)
		if addr.Zone() != "" {
			if r, _ := classify(addr.WithZone("")); r != reason {
				t.Fatalf("%s: zone changed the verdict: %q vs %q", addr, reason, r)
			}
		}
		if err := CheckAddr(addr); (err != nil) != (reason != "") {
			t.Fatalf("%s: CheckAddr = %v, classify = %q", addr, err, reason)
		}
		if !addr.Is4() {
			return
		}
		a := addr.As4()
		mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: a[0], 13: a[1], 14: a[2], 15: a[3]})
		nat64 := netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 12: a[0], 13: a[1], 14: a[2], 15: a[3]})
		sixTo4 := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: a[0], 3: a[1], 4: a[2], 5: a[3], 15: 1})
		for _, form := range []netip.Addr{mapped, nat64, sixTo4} {
			if r, _ := classify(form); r != reason {
				t.Fatalf("%s: %s is %q, want %q", addr, form, r, reason)
			}
		}
	})
}
