package deliver

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// testNow is the injected attempt time; the body carries it truncated to ms.
var testNow = time.Date(2022, 10, 1, 6, 54, 29, 78_999_999, time.UTC)

// dnsStub is a DNS server on 127.0.0.1 that answers A queries for its names
// and NXDOMAIN for everything else, so tests never query the machine's resolver.
type dnsStub struct {
	conn net.PacketConn
	a    map[string]netip.Addr // lower-case name with trailing dot
}

func startDNSStub(t *testing.T, a map[string]netip.Addr) *dnsStub {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsStub{conn: conn, a: a}
	t.Cleanup(func() { conn.Close() })
	go s.serve()
	return s
}

func (s *dnsStub) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			s.conn.WriteTo(resp, from)
		}
	}
}

// answer builds a response to one query (RFC 1035 section 4.1).
func (s *dnsStub) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// Parse the question name.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qend := i + 5
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	name := strings.ToLower(strings.Join(labels, ".")) + "."

	resp := append([]byte(nil), q[:qend]...)
	// Flags: response, authoritative, recursion desired/available.
	resp[2] = 0x80 | 0x04 | (q[2] & 0x01)
	resp[3] = 0x80
	binary.BigEndian.PutUint16(resp[6:], 0)  // ANCOUNT
	binary.BigEndian.PutUint16(resp[8:], 0)  // NSCOUNT
	binary.BigEndian.PutUint16(resp[10:], 0) // ARCOUNT
	addr, ok := s.a[name]
	if !ok {
		resp[3] |= 3 // NXDOMAIN
		return resp
	}
	if qtype == 1 && addr.Is4() {
		binary.BigEndian.PutUint16(resp[6:], 1)
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		a4 := addr.As4()
		resp = append(resp, a4[:]...)
	}
	return resp
}

// resolver returns a pure-Go resolver that only talks to the stub.
func (s *dnsStub) resolver() *net.Resolver {
	addr := s.conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// brokenResolver fails to reach any DNS server.
func brokenResolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no DNS server in tests")
		},
	}
}

// newTestClient returns a client that allows private networks (every test
// server is on 127.0.0.1) and resolves names only through a stub.
func newTestClient(t *testing.T, opts ClientOptions) *Client {
	t.Helper()
	if opts.Resolver == nil {
		opts.Resolver = startDNSStub(t, nil).resolver()
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "fgwh/test"
	}
	c := NewClient(opts)
	t.Cleanup(c.CloseIdleConnections)
	return c
}
