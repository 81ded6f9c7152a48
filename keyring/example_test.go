package keyring_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/m2mkit/m2m/keyring"
	"github.com/m2mkit/m2m/store/memstore"
)

func ExampleNew() {
	ctx := context.Background()
	master := make([]byte, 32) // in a server: secretfile.LoadOrCreate
	rand.Read(master)
	kr, err := keyring.New(ctx, keyring.Config{
		Store:       memstore.New(), // or sqlstore.Open(ctx, "sqlite:///var/lib/m2m/m2m.db")
		Master:      master,
		MaxTokenTTL: 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	// In a server: go kr.Run(ctx)
	for _, k := range kr.Keys() {
		fmt.Println(k.Algorithm, k.State)
	}
	// Output: ES256 active
}

func ExampleKeyring_Sign() {
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := keyring.New(context.Background(), keyring.Config{Store: memstore.New(), Master: master, Algorithm: "EdDSA"})
	if err != nil {
		log.Fatal(err)
	}
	token, kid, err := kr.Sign("at+jwt", []byte(`{"sub":"svc@clients"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Count(token, "."), kid == kr.Keys()[0].ID)
	// Output: 2 true
}

func ExampleKeyring_JWKS() {
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := keyring.New(context.Background(), keyring.Config{Store: memstore.New(), Master: master})
	if err != nil {
		log.Fatal(err)
	}
	// Serve kr.JWKS() at /.well-known/jwks.json.
	fmt.Println(strings.HasPrefix(string(kr.JWKS()), `{"keys":[{"use":"sig","kty":"EC","kid":`))
	// Output: true
}

func ExampleKeyring_Rotate() {
	ctx := context.Background()
	master := make([]byte, 32)
	rand.Read(master)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	kr, err := keyring.New(ctx, keyring.Config{
		Store: memstore.New(), Master: master,
		PrePublish: 10 * time.Minute,
		Now:        func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := kr.Rotate(ctx); err != nil { // `m2m key rotate`
		log.Fatal(err)
	}
	for _, k := range kr.Keys() {
		fmt.Println(k.State, k.ActivatedAt.Format(time.TimeOnly))
	}
	now = now.Add(10 * time.Minute)
	if err := kr.Advance(ctx); err != nil { // Run does this every RefreshEvery
		log.Fatal(err)
	}
	for _, k := range kr.Keys() {
		fmt.Println(k.State, k.PublishUntil.Format(time.DateTime))
	}
	// Output:
	// active 09:00:00
	// next 09:10:00
	// retiring 2026-11-23 09:15:00
	// active 0001-01-01 00:00:00
}

func ExampleKeyring_Run() {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := keyring.New(ctx, keyring.Config{Store: memstore.New(), Master: master, RefreshEvery: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kr.Run(ctx))
	// Output: context deadline exceeded
}

func ExampleKeyring_Refresh() {
	ctx := context.Background()
	master := make([]byte, 32)
	rand.Read(master)
	s := memstore.New() // shared by two replicas
	a, err := keyring.New(ctx, keyring.Config{Store: s, Master: master})
	if err != nil {
		log.Fatal(err)
	}
	b, err := keyring.New(ctx, keyring.Config{Store: s, Master: master})
	if err != nil {
		log.Fatal(err)
	}
	if err := a.Rotate(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(a.Keys()), len(b.Keys()))
	if err := b.Refresh(ctx); err != nil { // Run does this every RefreshEvery
		log.Fatal(err)
	}
	fmt.Println(len(b.Keys()), string(a.JWKS()) == string(b.JWKS()))
	// Output:
	// 2 1
	// 2 true
}

// A replica that cannot read the store stops signing once its keys are
// MaxStale old, so it never signs with a key other replicas retired; Ready
// says so for a readiness check.
func ExampleKeyring_Ready() {
	ctx := context.Background()
	master := make([]byte, 32)
	rand.Read(master)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	kr, err := keyring.New(ctx, keyring.Config{
		Store: memstore.New(), Master: master,
		PrePublish: 10 * time.Minute, MaxStale: 10 * time.Minute,
		Now: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	now = now.Add(11 * time.Minute) // no Refresh meanwhile (store down)
	_, _, err = kr.Sign("at+jwt", []byte(`{}`))
	fmt.Println(errors.Is(err, keyring.ErrStale), errors.Is(kr.Ready(), keyring.ErrStale))
	if err := kr.Refresh(ctx); err != nil {
		log.Fatal(err)
	}
	_, _, err = kr.Sign("at+jwt", []byte(`{}`))
	fmt.Println(err)
	// Output:
	// true true
	// <nil>
}

// Advance with RotateEvery adds the scheduled successor PrePublish before
// the active key is RotateEvery old.
func ExampleKeyring_Advance() {
	ctx := context.Background()
	master := make([]byte, 32)
	rand.Read(master)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	kr, err := keyring.New(ctx, keyring.Config{
		Store: memstore.New(), Master: master,
		PrePublish: 10 * time.Minute, RotateEvery: 24 * time.Hour,
		Now: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	now = now.Add(23*time.Hour + 50*time.Minute)
	if err := kr.Advance(ctx); err != nil {
		log.Fatal(err)
	}
	for _, k := range kr.Keys() {
		fmt.Println(k.State, k.ActivatedAt.Format(time.DateTime))
	}
	// Output:
	// active 2026-11-22 09:00:00
	// next 2026-11-23 09:00:00
}
