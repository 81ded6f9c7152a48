package clientcred

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"

	"github.com/m2mkit/m2m/secretfile"
)

// maxDPoPKeyFile bounds a DPoP key file; an RSA 4096 private JWK is
// about 3 KiB.
const maxDPoPKeyFile = 64 << 10

// LoadDPoPKey reads a DPoP key from a file, in a form [ParseDPoPKey]
// reads (a private JWK or a PEM private key). When the file does not
// exist it generates an ES256 key and writes it there as PKCS#8 PEM,
// readable by its owner only (mode 0600), atomically: two processes
// starting together end up with the same key. A key file that group or
// others may read is refused (outside Windows).
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

// ParseDPoPKey reads a DPoP key as [ParsePrivateKey] reads a private key
// (PKCS #8, SEC 1 or PKCS #1 PEM, a private JWK, or a JWK Set of one). A
// JWK's "alg" is used when it is a DPoP algorithm (ES256, ES384, ES512,
// EdDSA, PS256, RS256); otherwise the key type's default. The error never
// quotes the key material.
func ParseDPoPKey(data []byte) (*DPoPKey, error) {
	pk, err := ParsePrivateKey(data)
	if err != nil {
		return nil, err
	}
	alg := pk.Algorithm
	if !slices.Contains(dpopAlgorithms, alg) {
		def, err := newPrivateKey(pk.signer, "", "")
		if err != nil {
			return nil, err
		}
		alg = def.Algorithm
	}
	return newDPoPKey(pk.signer, alg)
}
