package federation

import (
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},
		{"140.82.112.3", true},
		{"2606:4700::1111", true},
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.100.100.200", false}, // a cloud's metadata, in CGNAT space
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::a00:1", false}, // NAT64 of 10.0.0.1
		{"2002:a00:1::", false},   // 6to4 of 10.0.0.1
		{"ff02::1", false},
	}
	for _, tt := range tests {
		if got := public(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("public(%s) = %v; want %v", tt.addr, got, tt.want)
		}
	}
}

func TestControlAllowsNamedAddressOnly(t *testing.T) {
	n := namedAddrs("https://127.0.0.1:8443", "https://[::1]/jwks", "https://issuer.example")
	tests := []struct {
		address string
		want    bool
	}{
		{"127.0.0.1:8443", true},
		{"127.0.0.1:443", false}, // another port
		{"[::1]:443", true},
		{"[::ffff:127.0.0.1]:8443", true},
		{"10.0.0.1:443", false},
		{"93.184.215.14:443", true},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := n.control("tcp", tt.address, nil) == nil; got != tt.want {
			t.Errorf("control(%s) allowed = %v; want %v", tt.address, got, tt.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	n := namedAddrs("http://127.0.0.1:8080", "https://10.0.0.5")
	tests := []struct {
		url  string
		want bool
	}{
		{"https://issuer.example", true},
		{"https://10.0.0.5/jwks", true},
		{"http://127.0.0.1:8080/jwks", true},
		{"http://127.0.0.1:8081/jwks", false},
		{"http://localhost:8080/jwks", false},
		{"http://10.0.0.5/jwks", false}, // named, but not loopback
		{"http://issuer.example", false},
		{"https://user:pw@issuer.example", false},
		{"ftp://issuer.example", false},
		{"https:opaque", false},
		{"/relative", false},
	}
	for _, tt := range tests {
		if _, err := n.checkURL(tt.url); (err == nil) != tt.want {
			t.Errorf("checkURL(%s) = %v; want ok %v", tt.url, err, tt.want)
		}
	}
}
