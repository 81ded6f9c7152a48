package version

import "testing"

// TestCommitOverridesRecordedRevision: a revision stamped with -ldflags
// (a container build has no .git for Go to read) wins over what Go
// recorded.
func TestCommitOverridesRecordedRevision(t *testing.T) {
	old := Commit
	t.Cleanup(func() { Commit = old })
	Commit = "0123456789abcdef0123456789abcdef01234567"
	if got := Revision(); got != Commit {
		t.Errorf("Revision() = %q; want the stamped %q", got, Commit)
	}
}
