package clientaddr_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/m2mkit/m2m/clientaddr"
)

// A request relayed by a trusted load balancer is attributed to the
// rightmost hop the balancer did not add; the same headers from any other
// peer are ignored.
func ExampleTrustedProxies_ClientAddr() {
	proxies, err := clientaddr.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("POST", "/oauth/token", nil)
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 2001:db8:1:2::7")
	r.RemoteAddr = "10.0.0.5:40000"
	fmt.Println(proxies.ClientAddr(r), proxies.ThrottleKey(r))
	r.RemoteAddr = "198.51.100.1:40000"
	fmt.Println(proxies.ClientAddr(r), proxies.ThrottleKey(r))
	// Output:
	// 2001:db8:1:2::7 2001:db8:1:2::/64
	// 198.51.100.1 198.51.100.1
}

// Behind a TLS-terminating proxy, the origin a client called comes from
// the proxy's X-Forwarded-Proto and X-Forwarded-Host, and only from it.
func ExampleTrustedProxies_ForwardedOrigin() {
	proxies, err := clientaddr.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "http://10.0.0.7:8080/orders", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "api.example.com")
	r.RemoteAddr = "10.0.0.5:40000"
	fmt.Println(proxies.ForwardedOrigin(r))
	r.RemoteAddr = "198.51.100.1:40000"
	fmt.Println(proxies.ForwardedOrigin(r))
	// Output:
	// https://api.example.com true
	//  false
}
