package clientcred

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/m2mkit/m2m/secretfile"
)

// maxDPoPKeyFile bounds a DPoP key file; an RSA 4096 private JWK is
// about 3 KiB.
const maxDPoPKeyFile = 64 << 10

// LoadDPoPKey reads a DPoP key from a file holding a private JWK (EC
// P-256, P-384 or P-521, OKP Ed25519, or RSA) or a PKCS#8 PEM private key
// ("BEGIN PRIVATE KEY"). When the file does not exist it generates an
// ES256 key and writes it there as PKCS#8 PEM, readable by its owner
// only (mode 0600), atomically: two processes starting together end up
// with the same key. A key file that group or others may read is refused
// (outside Windows).
func LoadDPoPKey(path string) (*DPoPKey, error) {
	data, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := GenerateDPoPKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return nil, fmt.Errorf("clientcred: DPoP key: %w", err)
		}
		err = secretfile.WritePrivate(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), false)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("clientcred: DPoP key: %w", err)
		}
		data, err = readKeyFile(path) // another process wrote it first
	}
	if err != nil {
		return nil, fmt.Errorf("clientcred: DPoP key: %w", err)
	}
	k, err := ParseDPoPKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	if fi.Mode().IsRegular() && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is accessible by group or others (mode %04o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDPoPKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDPoPKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxDPoPKeyFile)
	}
	return data, nil
}

// ParseDPoPKey reads a DPoP key from a private JWK or a PKCS#8 PEM
// private key. The error never quotes the key material.
func ParseDPoPKey(data []byte) (*DPoPKey, error) {
	data = bytes.TrimSpace(data)
	if len(data) > maxDPoPKeyFile {
		return nil, errors.New("clientcred: DPoP key: too large")
	}
	if bytes.HasPrefix(data, []byte("{")) {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(data); err != nil {
			return nil, errors.New("clientcred: DPoP key: not a valid JWK")
		}
		if k.IsPublic() {
			return nil, errors.New("clientcred: DPoP key: the JWK is a public key; a private key is needed")
		}
		s, ok := k.Key.(crypto.Signer)
		if !ok {
			return nil, errors.New("clientcred: DPoP key: the JWK is not an asymmetric private key")
		}
		return NewDPoPKey(s)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("clientcred: DPoP key: want a private JWK or a PKCS#8 PEM private key (BEGIN PRIVATE KEY)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("clientcred: DPoP key: not a valid PKCS#8 private key")
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("clientcred: DPoP key: unsupported private key type")
	}
	return NewDPoPKey(s)
}
