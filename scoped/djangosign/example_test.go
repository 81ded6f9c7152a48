package djangosign_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/m2mkit/m2m/scoped/djangosign"
)

var secretKey = []byte("fn)t*+$)ugeyip6-#txyy$5wf2ervc0d2n#h)qb)y5@ly$t*@w")

func clock(sec float64) func() time.Time {
	return func() time.Time { return time.Unix(0, int64(sec*1e9)) }
}

// signing.dumps("hello") at a fixed time, as Django 3.1+ writes it.
func ExampleSigner_Dumps() {
	s := &djangosign.Signer{Key: secretKey, Now: clock(1700000000)}
	tok, _ := s.Dumps("hello", false)
	fmt.Println(tok)
	// Output: ImhlbGxvIg:1r31eq:Jj8ZJgqcDf8AwNeWfcWPe9YaH_Twx3H9SljRYn6YfZ4
}

// Sign takes the exact JSON text; compression is zlib's, byte for byte.
func ExampleSigner_Sign() {
	s := &djangosign.Signer{Key: secretKey, Algorithm: djangosign.SHA1, Now: clock(1700000000)}
	tok, _ := s.Sign([]byte(`{"endpoints":{"GET":["/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/","/api/v1/projects/"]}}`), true)
	fmt.Println(tok)
	// Output: .eJyrVkrNSynIz8wrKVayqlZydw1RsopW0k8syNQvM9QvKMrPSk0uKdZX0hmCYrG1tQC9cEjT:1r31eq:Cs1xfL5F8lV2M537YbWb7WAPCPM
}

// signing.loads(token, max_age=10): age equal to max_age is still valid,
// one millisecond more is not.
func ExampleSigner_Loads() {
	tok := "ImhlbGxvIg:1r31eq:Jj8ZJgqcDf8AwNeWfcWPe9YaH_Twx3H9SljRYn6YfZ4"
	s := &djangosign.Signer{Key: secretKey, Now: clock(1700000010)}
	v, err := s.Loads(tok, 10)
	fmt.Println(string(v), err)

	s.Now = clock(1700000010.001)
	_, err = s.Loads(tok, 10)
	var de *djangosign.Error
	if errors.As(err, &de) {
		fmt.Println(de.Class, "|", de.DjangoMessage())
	}
	// Output:
	// "hello" <nil>
	// SignatureExpired | Signature age 10.000999927520752 > 10 seconds
}

// Unsign returns the payload bytes and the signing time; a Django 3.2 site
// (LegacySHA1) also accepts the SHA-1 tokens of Django 3.0 and older, and
// Fallbacks accept tokens signed with a previous key.
func ExampleSigner_Unsign() {
	s := &djangosign.Signer{Key: []byte("new key"), Fallbacks: [][]byte{secretKey}, LegacySHA1: true}
	data, ts, err := s.Unsign("ImhlbGxvIg:1r31eq:HhuWBuT3TuI9NAvDljL5E69YTHs", djangosign.NoMaxAge)
	fmt.Println(string(data), ts, err)
	// Output: "hello" 1700000000 <nil>
}

// Inspect reads a token without verifying it: signed is not encrypted.
func ExampleInspect() {
	in, _ := djangosign.Inspect("eyJ1c2VyIjoxLCJtYXhfYWdlIjozNjAsImVuZHBvaW50cyI6eyJHRVQiOlsiL2FwaS92MS9mb28iXX19:1r31eq:forged")
	fmt.Println(string(in.Payload), in.Timestamp)
	// Output: {"user":1,"max_age":360,"endpoints":{"GET":["/api/v1/foo"]}} 1700000000
}

func ExampleB62Encode() {
	n, _ := djangosign.B62Decode("1r31eq")
	fmt.Println(djangosign.B62Encode(1700000000), n)
	// Output: 1r31eq 1700000000
}

// B64Decode is as lenient as Django's: characters outside the alphabet are
// skipped.
func ExampleB64Decode() {
	b, _ := djangosign.B64Decode("Imh!lbG!xv!I!g")
	fmt.Println(string(b))
	// Output: "hello"
}

func ExamplePythonJSON() {
	j, _ := djangosign.PythonJSON(map[string]any{"name": "Zoë", "n": 1})
	fmt.Println(string(j))
	// Output: {"n":1,"name":"Zo\u00eb"}
}

func ExamplePythonizeJSON() {
	j, _ := djangosign.PythonizeJSON([]byte(`{ "b": 1, "a": ["é"] }`))
	fmt.Println(string(j))
	// Output: {"b":1,"a":["\u00e9"]}
}

// UnixFloat is Python's time.time() for a time.Time, the clock Django's
// age check uses.
func ExampleUnixFloat() {
	fmt.Println(djangosign.UnixFloat(time.Unix(1700000010, 1_000_000)) - 1700000000)
	// Output: 10.000999927520752
}

// Error's own text never quotes the token; DjangoMessage is Django's
// str(exc), which does (here the forged signature), so keep it out of
// logs where tokens must not appear.
func ExampleError() {
	s := &djangosign.Signer{Key: secretKey}
	_, err := s.Loads("ImhlbGxvIg:1r31eq:forged", djangosign.NoMaxAge)
	var de *djangosign.Error
	if errors.As(err, &de) {
		fmt.Println(de.Class, errors.Is(err, djangosign.ErrBadSignature), errors.Is(err, djangosign.ErrExpired))
		fmt.Println(de.Error())
		fmt.Println(de.DjangoMessage())
	}
	// Output:
	// BadSignature true false
	// djangosign: signature does not match
	// Signature "forged" does not match
}
