package rfc4514

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	cn := "2.5.4.3"
	for _, tc := range []struct {
		name, in string
		want     Name
	}{
		{"empty", "", Name{}},
		{"one", "CN=worker", Name{{{cn, "worker"}}}},
		{"order reversed", "CN=worker,O=Example,C=DE", Name{{{"2.5.4.6", "DE"}}, {{"2.5.4.10", "Example"}}, {{cn, "worker"}}}},
		{"type case and oid", "cn=a,2.5.4.10=b", Name{{{"2.5.4.10", "b"}}, {{cn, "a"}}}},
		{"multi-valued sorted", "OU=b+CN=a", Name{{{"2.5.4.11", "b"}, {cn, "a"}}}},
		{"escapes", `CN=a\,b\+c\"d\\e\;\<\>`, Name{{{cn, `a,b+c"d\e;<>`}}}},
		{"hex escape utf8", `CN=J\C3\BCrgen`, Name{{{cn, "Jürgen"}}}},
		{"escaped spaces", `CN=\ a\ `, Name{{{cn, " a "}}}},
		{"equals in value", "CN=a=b", Name{{{cn, "a=b"}}}},
		{"empty value", "CN=", Name{{{cn, ""}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range []string{
		"worker", "CN", "=x", "CN=a,", "CN=a+", ",CN=a", "XX=a", "1=a", "1..2=a", "01.2=a",
		"CN=#0403", `CN=a\`, `CN=a\zz`, "CN=a;O=b", `CN=a"b`, "CN= a", "CN=a ", `CN=\ff`,
		"CN=a\x00",
	} {
		if got, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", in, got, err)
		}
	}
}

func TestFromDER(t *testing.T) {
	subject := pkix.Name{CommonName: "worker", Organization: []string{"Example"}, Country: []string{"DE"}}
	der, err := asn1.Marshal(subject.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromDER(der)
	if err != nil {
		t.Fatal(err)
	}
	for in, match := range map[string]bool{
		"CN=worker,O=Example,C=DE": true,
		"cn=worker,o=Example,c=DE": true,
		"CN=Worker,O=Example,C=DE": false,
		"CN=worker,O=Example":      false,
		"O=Example,CN=worker,C=DE": false,
		"CN=worker+O=Example,C=DE": false,
	} {
		want, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Equal(want) != match {
			t.Errorf("FromDER(%s).Equal(Parse(%q)) = %t; want %t", got, in, !match, match)
		}
	}
	if s := got.String(); s != "CN=worker,O=Example,C=DE" {
		t.Errorf("String() = %q", s)
	}
	if _, err := FromDER(append(der, 0)); err == nil {
		t.Error("FromDER(trailing data) = nil error")
	}
}

// FuzzParse checks that Parse never panics and that what it accepts
// round-trips through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"CN=worker,O=Example,C=DE", `CN=a\,b+OU=\C3\BC`, "2.5.4.3=x", `CN=\ a\ `, "CN=#00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(n.String())
		if err != nil || !again.Equal(n) {
			t.Fatalf("Parse(%q).String() = %q does not parse back: %v, %v", s, n.String(), again, err)
		}
	})
}

// FuzzFromDER checks that reading a certificate's subject (which a client
// chooses) never panics, and that a name read compares equal to itself.
func FuzzFromDER(f *testing.F) {
	for _, n := range []pkix.Name{{CommonName: "worker", Organization: []string{"Example"}}, {SerialNumber: "7", Country: []string{"DE"}}} {
		der, _ := asn1.Marshal(n.ToRDNSequence())
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		n, err := FromDER(der)
		if err == nil && !n.Equal(n) {
			t.Fatalf("FromDER(%x) is not equal to itself", der)
		}
	})
}
