package deliver

import (
	"fmt"
	"net/netip"
	"syscall"
)

// Reasons an address is refused, as they appear in BlockedAddressError.Reason.
const (
	ReasonLoopback    = "loopback"
	ReasonPrivate     = "private"
	ReasonLinkLocal   = "link-local"
	ReasonUnspecified = "unspecified"
	ReasonShared      = "shared address space (CGNAT 100.64.0.0/10)"
	ReasonMulticast   = "multicast"
	ReasonBroadcast   = "broadcast"
	ReasonThisNetwork = "in 0.0.0.0/8 (this network)"
)

// BlockedAddressError is returned when a delivery would connect to an address
// on a private network and private networks are not allowed. It comes out of
// the dialer, so it covers host names that resolve to such an address and DNS
// rebinding alike.
type BlockedAddressError struct {
	// Addr is the refused address as dialed.
	Addr netip.Addr
	// Reason is one of the Reason* constants.
	Reason string
	// Via names the IPv4 address embedded in an IPv6 form (IPv4-mapped,
	// IPv4-compatible, NAT64 or 6to4) that made Addr blocked, or is empty.
	Via string
}

func (e *BlockedAddressError) Error() string {
	reason := e.Reason
	if e.Via != "" {
		reason += " (" + e.Via + ")"
	}
	return fmt.Sprintf("address %s is %s; deliveries to private networks are refused "+
		"(allow with --allow-private-networks or FGWH_ALLOW_PRIVATE_NETWORKS=1)", e.Addr, reason)
}

var (
	blocked4 = []struct {
		prefix netip.Prefix
		reason string
	}{
		{netip.MustParsePrefix("0.0.0.0/32"), ReasonUnspecified},
		{netip.MustParsePrefix("0.0.0.0/8"), ReasonThisNetwork},
		{netip.MustParsePrefix("127.0.0.0/8"), ReasonLoopback},
		{netip.MustParsePrefix("10.0.0.0/8"), ReasonPrivate},
		{netip.MustParsePrefix("172.16.0.0/12"), ReasonPrivate},
		{netip.MustParsePrefix("192.168.0.0/16"), ReasonPrivate},
		{netip.MustParsePrefix("169.254.0.0/16"), ReasonLinkLocal},
		{netip.MustParsePrefix("100.64.0.0/10"), ReasonShared},
		{netip.MustParsePrefix("224.0.0.0/4"), ReasonMulticast},
		{netip.MustParsePrefix("255.255.255.255/32"), ReasonBroadcast},
	}
	blocked6 = []struct {
		prefix netip.Prefix
		reason string
	}{
		{netip.MustParsePrefix("::/128"), ReasonUnspecified},
		{netip.MustParsePrefix("::1/128"), ReasonLoopback},
		{netip.MustParsePrefix("fc00::/7"), ReasonPrivate},
		{netip.MustParsePrefix("fe80::/10"), ReasonLinkLocal},
		{netip.MustParsePrefix("ff00::/8"), ReasonMulticast},
		// RFC 8215 local-use NAT64 translates into a site's own networks.
		{netip.MustParsePrefix("64:ff9b:1::/48"), ReasonPrivate},
	}
	compat6 = netip.MustParsePrefix("::/96")
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
)

// CheckAddr returns a *BlockedAddressError if addr is loopback, private,
// link-local, unspecified, CGNAT, multicast, broadcast or in 0.0.0.0/8,
// directly or as an IPv4 address embedded in an IPv6 one (IPv4-mapped
// ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4
// 2002::/16). An IPv6 zone is ignored. An invalid addr is refused as
// unspecified. Otherwise it returns nil.
func CheckAddr(addr netip.Addr) error {
	if reason, via := classify(addr); reason != "" {
		return &BlockedAddressError{Addr: addr, Reason: reason, Via: via}
	}
	return nil
}

// classify returns the reason addr is blocked ("" if it is not) and, when the
// reason comes from an embedded IPv4 address, a description of that.
func classify(addr netip.Addr) (reason, via string) {
	if !addr.IsValid() {
		return ReasonUnspecified, ""
	}
	addr = addr.WithZone("")
	if addr.Is4In6() {
		v4 := addr.Unmap()
		return classify4(v4), "IPv4-mapped " + v4.String()
	}
	if addr.Is4() {
		return classify4(addr), ""
	}
	for _, b := range blocked6 {
		if b.prefix.Contains(addr) {
			return b.reason, ""
		}
	}
	a := addr.As16()
	switch {
	case compat6.Contains(addr):
		v4 := netip.AddrFrom4([4]byte(a[12:16]))
		return nonEmpty(classify4(v4), "IPv4-compatible "+v4.String())
	case nat64.Contains(addr):
		v4 := netip.AddrFrom4([4]byte(a[12:16]))
		return nonEmpty(classify4(v4), "NAT64 of "+v4.String())
	case sixTo4.Contains(addr):
		v4 := netip.AddrFrom4([4]byte(a[2:6]))
		return nonEmpty(classify4(v4), "6to4 of "+v4.String())
	}
	return "", ""
}

func nonEmpty(reason, via string) (string, string) {
	if reason == "" {
		return "", ""
	}
	return reason, via
}

func classify4(addr netip.Addr) string {
	for _, b := range blocked4 {
		if b.prefix.Contains(addr) {
			return b.reason
		}
	}
	return ""
}

// guardControl is a net.Dialer.Control that refuses blocked addresses. It runs
// after name resolution, once per address actually dialed, so a name that
// resolves (or re-resolves) to a private address is caught.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refusing to dial %q: %w", address, err)
	}
	return CheckAddr(ap.Addr())
}
