// Package version is the one place the m2m build's version lives: the
// command line's --version, the start log and the m2m_build_info metric
// all read it from here.
package version

import "runtime/debug"

// Version is set at build time with
//
//	-ldflags "-X github.com/m2mkit/m2m/internal/version.Version=v1.2.3"
//
// When empty, [String] falls back to the module version recorded by
// go install, then to "devel".
var Version = ""

// String returns the version of this build.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Commit is the VCS revision, set at build time where Go cannot record it
// (a container build without .git in its context):
//
//	-ldflags "-X github.com/m2mkit/m2m/internal/version.Commit=$(git rev-parse HEAD)"
var Commit = ""

// Revision returns the VCS revision the binary was built from: [Commit]
// when set, else the one Go recorded (with "+dirty" when the tree had
// changes), or "" when there is none.
func Revision() string {
	if Commit != "" {
		return Commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}
