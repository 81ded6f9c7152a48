// Package rfc4514 reads distinguished names written as RFC 4514 strings
// (such as "CN=worker,O=Example,C=DE") and the subjects of X.509
// certificates into one canonical form, so that a registered subject and
// a certificate's subject can be compared exactly.
//
// The canonical form is the sequence of relative distinguished names in
// certificate order (the reverse of the string's order, RFC 4514 section
// 2.1), each a set of attributes sorted by type and value; an attribute
// type is its OID (CN and 2.5.4.3 are the same type, names are
// case-insensitive), and a value is compared byte for byte after
// unescaping. No case folding or space folding is applied to values: a
// subject matches only when its values are exactly the registered ones,
// which errs on the side of refusing.
//
// Hex-encoded BER values ("1.2.3=#0403...") are not accepted in strings,
// and certificate attributes whose value is not a string never match.
package rfc4514

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBytes bounds a distinguished name string accepted by [Parse].
const MaxBytes = 4096

// MaxAttributes bounds the attributes of one name.
const MaxAttributes = 64

// Attribute is one attribute type and value of a name.
type Attribute struct {
	Type  string // the OID, dotted (2.5.4.3 for CN)
	Value string
}

// Name is a distinguished name in canonical form: its RDNs in
// certificate order, the attributes of each sorted.
type Name [][]Attribute

// Equal reports whether n and m are the same name.
func (n Name) Equal(m Name) bool {
	return slices.EqualFunc(n, m, func(a, b []Attribute) bool { return slices.Equal(a, b) })
}

// String writes n as an RFC 4514 string, attribute types by their short
// name when they have one.
func (n Name) String() string {
	var b strings.Builder
	for i := len(n) - 1; i >= 0; i-- {
		if i != len(n)-1 {
			b.WriteByte(',')
		}
		for j, a := range n[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			t := a.Type
			if s, ok := shortNames[a.Type]; ok {
				t = s
			}
			b.WriteString(t)
			b.WriteByte('=')
			escape(&b, a.Value)
		}
	}
	return b.String()
}

func escape(b *strings.Builder, v string) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' || c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == ' ' && (i == 0 || i == len(v)-1)) || (c == '#' && i == 0):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
}

// oids maps the attribute type names of RFC 4514 section 3, and the
// common SERIALNUMBER, POSTALCODE and EMAILADDRESS, to their OIDs.
var oids = map[string]string{
	"CN":           "2.5.4.3",
	"L":            "2.5.4.7",
	"ST":           "2.5.4.8",
	"O":            "2.5.4.10",
	"OU":           "2.5.4.11",
	"C":            "2.5.4.6",
	"STREET":       "2.5.4.9",
	"DC":           "0.9.2342.19200300.100.1.25",
	"UID":          "0.9.2342.19200300.100.1.1",
	"SERIALNUMBER": "2.5.4.5",
	"POSTALCODE":   "2.5.4.17",
	"EMAILADDRESS": "1.2.840.113549.1.9.1",
}

var shortNames = func() map[string]string {
	m := make(map[string]string, len(oids))
	for k, v := range oids {
		m[v] = k
	}
	return m
}()

// ErrSyntax is wrapped by every error of [Parse].
var ErrSyntax = errors.New("rfc4514: malformed distinguished name")

func syntax(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, args...)...)
}

// Parse reads an RFC 4514 string of at most [MaxBytes] into its
// canonical form. The empty string is the empty name (no RDN). Values
// must be valid UTF-8 once unescaped.
func Parse(s string) (Name, error) {
	if len(s) > MaxBytes {
		return nil, syntax("longer than %d bytes", MaxBytes)
	}
	if s == "" {
		return Name{}, nil
	}
	var rdns Name
	var rdn []Attribute
	count := 0
	i := 0
	for {
		// attributeType
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ',' && s[j] != '+' {
			j++
		}
		if j == len(s) || s[j] != '=' {
			return nil, syntax("attribute %d has no '='", count+1)
		}
		oid, err := attrType(s[i:j])
		if err != nil {
			return nil, err
		}
		i = j + 1
		if i < len(s) && s[i] == '#' {
			return nil, syntax("hex-encoded (#) values are not supported")
		}
		v, n, err := value(s[i:])
		if err != nil {
			return nil, err
		}
		i += n
		count++
		if count > MaxAttributes {
			return nil, syntax("more than %d attributes", MaxAttributes)
		}
		rdn = append(rdn, Attribute{Type: oid, Value: v})
		if i == len(s) {
			rdns = append(rdns, rdn)
			break
		}
		switch s[i] {
		case '+':
		case ',':
			rdns = append(rdns, rdn)
			rdn = nil
		default:
			return nil, syntax("unexpected %q after a value", s[i])
		}
		i++
		if i == len(s) {
			return nil, syntax("ends with a separator")
		}
	}
	slices.Reverse(rdns)
	return canonical(rdns), nil
}

// attrType reads a descr (a name) or a numericoid.
func attrType(t string) (string, error) {
	if t == "" {
		return "", syntax("empty attribute type")
	}
	if c := t[0]; c >= '0' && c <= '9' {
		arcs := strings.Split(t, ".")
		if len(arcs) < 2 {
			return "", syntax("attribute type %q is not a dotted OID", clip(t))
		}
		for _, a := range arcs {
			if a == "" || len(a) > 1 && a[0] == '0' || len(a) > 18 || strings.Trim(a, "0123456789") != "" {
				return "", syntax("attribute type %q is not a dotted OID", clip(t))
			}
		}
		return t, nil
	}
	if oid, ok := oids[strings.ToUpper(t)]; ok {
		return oid, nil
	}
	return "", syntax("unknown attribute type %q (use its dotted OID)", clip(t))
}

func clip(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// value reads an RFC 4514 string value up to an unescaped ',' or '+' or
// the end, and returns it unescaped with the bytes consumed.
func value(s string) (string, int, error) {
	var b []byte
	i := 0
	lastEscaped := false
	for i < len(s) {
		c := s[i]
		switch c {
		case ',', '+':
			goto done
		case '\\':
			if i+1 >= len(s) {
				return "", 0, syntax("a value ends with a lone backslash")
			}
			d := s[i+1]
			lastEscaped = true
			if strings.IndexByte(` "#+,;<=>\`, d) >= 0 {
				b = append(b, d)
				i += 2
				continue
			}
			if i+2 < len(s) && isHex(d) && isHex(s[i+2]) {
				h, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
				b = append(b, byte(h))
				i += 3
				continue
			}
			return "", 0, syntax("bad escape in a value")
		case '"', ';', '<', '>', 0:
			return "", 0, syntax("unescaped %q in a value", c)
		default:
			b = append(b, c)
			lastEscaped = false
			i++
		}
	}
done:
	if !utf8.Valid(b) {
		return "", 0, syntax("a value is not valid UTF-8")
	}
	// RFC 4514: an unescaped leading or trailing space is not allowed.
	if i > 0 && (s[0] == ' ' || s[i-1] == ' ' && !lastEscaped) {
		return "", 0, syntax("a value has an unescaped leading or trailing space")
	}
	return string(b), i, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func canonical(rdns Name) Name {
	for _, rdn := range rdns {
		slices.SortFunc(rdn, func(a, b Attribute) int {
			if c := strings.Compare(a.Type, b.Type); c != 0 {
				return c
			}
			return strings.Compare(a.Value, b.Value)
		})
	}
	return rdns
}

// FromDER reads the DER encoding of an X.509 Name (a certificate's
// RawSubject) into its canonical form. An attribute whose value is not a
// string gets an empty Type, so that the name matches no parsed string.
func FromDER(der []byte) (Name, error) {
	var seq []rawRDNSET
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fmt.Errorf("rfc4514: certificate name: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("rfc4514: certificate name: trailing data")
	}
	rdns := make(Name, 0, len(seq))
	for _, set := range seq {
		rdn := make([]Attribute, 0, len(set))
		for _, a := range set {
			v, ok := stringValue(a.Value)
			t := a.Type.String()
			if !ok {
				t = ""
			}
			rdn = append(rdn, Attribute{Type: t, Value: v})
		}
		rdns = append(rdns, rdn)
	}
	return canonical(rdns), nil
}

// rawRDNSET is an RDN with its values undecoded; encoding/asn1 reads a
// slice type whose name ends in SET as a SET OF.
type rawRDNSET []struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// stringValue decodes the directory string types certificates use.
func stringValue(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		if !utf8.Valid(v.Bytes) {
			return "", false
		}
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		var b strings.Builder
		for i := 0; i < len(v.Bytes); i += 2 {
			r := rune(v.Bytes[i])<<8 | rune(v.Bytes[i+1])
			if r >= 0xd800 && r < 0xe000 {
				return "", false
			}
			b.WriteRune(r)
		}
		return b.String(), true
	}
	return "", false
}
