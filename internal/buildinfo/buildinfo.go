// Package buildinfo says which build of erasure is running, for the
// commands' version output and the server's first log line.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version returns the module version, the VCS revision (and whether the
// tree was modified) and the Go version the binary was built with.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(no build information) " + runtime.Version()
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (revision " + rev + modified + ")"
	}
	return v + " " + bi.GoVersion
}
