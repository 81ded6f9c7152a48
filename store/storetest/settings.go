package storetest

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/m2mkit/m2m/store"
)

// RunSettings runs the [store.Settings] cases, for a backend that stores
// only settings.
func RunSettings(t *testing.T, newStore func(t *testing.T) store.Settings) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Settings)
	}{
		{"SettingCRUD", testSettingCRUD},
		{"SettingUpdateAborts", testSettingUpdateAborts},
		{"SettingBounds", testSettingBounds},
		{"SettingConcurrentUpdates", testSettingConcurrentUpdates},
		{"SettingFirstWriterWins", testSettingFirstWriterWins},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// set stores value under name unconditionally.
func set(t *testing.T, s store.Settings, name, value string) {
	t.Helper()
	got, err := s.UpdateSetting(t.Context(), name, func(string, bool) (string, error) { return value, nil })
	if err != nil || got != value {
		t.Fatalf("UpdateSetting(%s, set %q) = %q, %v; want %q, nil", name, value, got, err, value)
	}
}

func testSettingCRUD(t *testing.T, s store.Settings) {
	ctx := t.Context()
	if v, err := s.GetSetting(ctx, "issuer"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSetting(issuer) on an empty store = %q, %v; want ErrNotFound", v, err)
	}
	var sawOld string
	var sawFound bool
	v, err := s.UpdateSetting(ctx, "issuer", func(old string, found bool) (string, error) {
		sawOld, sawFound = old, found
		return "https://auth.example/", nil
	})
	if err != nil || v != "https://auth.example/" {
		t.Fatalf("UpdateSetting(issuer) = %q, %v; want the new value", v, err)
	}
	if sawOld != "" || sawFound {
		t.Errorf("UpdateSetting(issuer) on an empty store passed (%q, %v) to update; want (\"\", false)", sawOld, sawFound)
	}
	if v, err := s.GetSetting(ctx, "issuer"); err != nil || v != "https://auth.example/" {
		t.Errorf("GetSetting(issuer) = %q, %v; want https://auth.example/", v, err)
	}
	// An empty value is a value, not an absence.
	set(t, s, "other.setting", "")
	if v, err := s.GetSetting(ctx, "other.setting"); err != nil || v != "" {
		t.Errorf("GetSetting(other.setting) = %q, %v; want \"\", nil", v, err)
	}
	// The update sees the stored value; names are independent.
	v, err = s.UpdateSetting(ctx, "issuer", func(old string, found bool) (string, error) {
		sawOld, sawFound = old, found
		return "https://auth2.example/ ünïcode", nil
	})
	if err != nil || v != "https://auth2.example/ ünïcode" {
		t.Fatalf("UpdateSetting(issuer) = %q, %v", v, err)
	}
	if sawOld != "https://auth.example/" || !sawFound {
		t.Errorf("UpdateSetting(issuer) passed (%q, %v) to update; want (https://auth.example/, true)", sawOld, sawFound)
	}
	if v, err := s.GetSetting(ctx, "issuer"); err != nil || v != "https://auth2.example/ ünïcode" {
		t.Errorf("GetSetting(issuer) after update = %q, %v", v, err)
	}
	if v, err := s.GetSetting(ctx, "other.setting"); err != nil || v != "" {
		t.Errorf("GetSetting(other.setting) after updating issuer = %q, %v; want \"\"", v, err)
	}
}

func testSettingUpdateAborts(t *testing.T, s store.Settings) {
	ctx := t.Context()
	boom := errors.New("refused by update")
	abort := func(string, bool) (string, error) { return "ignored", boom }
	if _, err := s.UpdateSetting(ctx, "issuer", abort); !errors.Is(err, boom) {
		t.Errorf("UpdateSetting(aborting) on a missing setting = %v; want the update's error", err)
	}
	if v, err := s.GetSetting(ctx, "issuer"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSetting after an aborted first update = %q, %v; want ErrNotFound", v, err)
	}
	set(t, s, "issuer", "kept")
	if _, err := s.UpdateSetting(ctx, "issuer", abort); !errors.Is(err, boom) {
		t.Errorf("UpdateSetting(aborting) = %v; want the update's error", err)
	}
	if v, err := s.GetSetting(ctx, "issuer"); err != nil || v != "kept" {
		t.Errorf("GetSetting after an aborted update = %q, %v; want kept", v, err)
	}
}

func testSettingBounds(t *testing.T, s store.Settings) {
	ctx := t.Context()
	for _, tc := range []struct {
		name, setting, value string
	}{
		{"empty name", "", "v"},
		{"long name", strings.Repeat("n", store.MaxSettingName+1), "v"},
		{"name with a space", "the issuer", "v"},
		{"name with a quote", "issuer'", "v"},
		{"long value", "issuer", strings.Repeat("v", store.MaxSettingValue+1)},
		{"value not UTF-8", "issuer", "https://auth.example/\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := s.UpdateSetting(ctx, tc.setting, func(string, bool) (string, error) { return tc.value, nil })
			if err == nil {
				t.Errorf("UpdateSetting(%.20q, %.20q) = %.20q, nil; want an error", tc.setting, tc.value, v)
			}
			if tc.setting != "" {
				if v, err := s.GetSetting(ctx, tc.setting); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetSetting(%.20q) after a refused update = %.20q, %v; want ErrNotFound", tc.setting, v, err)
				}
			}
		})
	}
	long := strings.Repeat("é", store.MaxSettingValue/2)
	name := strings.Repeat("n", store.MaxSettingName)
	set(t, s, name, long)
	if v, err := s.GetSetting(ctx, name); err != nil || v != long {
		t.Errorf("GetSetting of a value of MaxSettingValue bytes = %d bytes, %v", len(v), err)
	}
}

// testSettingConcurrentUpdates: N goroutines increment a counter, from
// no value at all, through UpdateSetting; a lost update (or two first
// inserts) shows as a short count or an error.
func testSettingConcurrentUpdates(t *testing.T, s store.Settings) {
	ctx := t.Context()
	errs := make(chan error, Concurrency*Increments)
	var wg sync.WaitGroup
	for range Concurrency {
		wg.Go(func() {
			for range Increments {
				_, err := s.UpdateSetting(ctx, "counter", func(old string, found bool) (string, error) {
					n := 0
					if found {
						var err error
						if n, err = strconv.Atoi(old); err != nil {
							return "", err
						}
					}
					return strconv.Itoa(n + 1), nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent UpdateSetting() = %v", err)
	}
	if v, err := s.GetSetting(ctx, "counter"); err != nil || v != strconv.Itoa(Concurrency*Increments) {
		t.Errorf("counter after %d concurrent increments = %q, %v", Concurrency*Increments, v, err)
	}
}

// testSettingFirstWriterWins: N replicas start at once on an empty store,
// each recording its value unless one is there; exactly one value is
// stored and every caller gets it back.
func testSettingFirstWriterWins(t *testing.T, s store.Settings) {
	ctx := t.Context()
	got := make([]string, Concurrency)
	errs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		wg.Go(func() {
			got[i], errs[i] = s.UpdateSetting(ctx, "issuer", func(old string, found bool) (string, error) {
				if found {
					return old, nil
				}
				return "https://replica-" + strconv.Itoa(i) + ".example/", nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: UpdateSetting() = %v", i, err)
		}
	}
	stored, err := s.GetSetting(ctx, "issuer")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != stored {
			t.Errorf("replica %d got %q; the store holds %q", i, v, stored)
		}
	}
}
