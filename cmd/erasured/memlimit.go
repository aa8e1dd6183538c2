package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memoryLimit returns the soft memory limit erasured gives the Go runtime
// (runtime/debug.SetMemoryLimit) for the -memory-limit setting, and where it
// comes from; 0 leaves the runtime as it is.
//
// "auto", the default, takes four fifths of the memory limit of the
// container (cgroup) erasured runs in, when it has one: the runtime then
// collects more often as the heap nears it, instead of the process being
// killed, and the fifth left is for what the runtime does not count (the
// duplicate check's tables, mapped outside the heap, 22 MiB per million
// rows, and the stacks of the system). "off" sets none; a size (512MiB,
// 2GiB, or bytes) sets that. GOMEMLIMIT, when set, wins: the runtime has
// read it already.
func memoryLimit(setting string, env func(string) (string, bool), cgroupRoot string) (limit int64, source string) {
	if v, ok := env("GOMEMLIMIT"); ok && v != "" {
		return 0, "GOMEMLIMIT=" + v
	}
	switch setting {
	case "off":
		return 0, "none (-memory-limit off)"
	case "auto", "":
		if c := containerMemory(cgroupRoot); c > 0 {
			return c / 5 * 4, fmt.Sprintf("four fifths of the container's %s", byteSize(c))
		}
		return 0, "none (no container memory limit found)"
	}
	n, _ := parseByteSize(setting)
	return n, "-memory-limit"
}

// containerMemory returns the memory limit of the cgroup the process runs
// in (v2's memory.max, else v1's memory.limit_in_bytes, under root), or 0.
func containerMemory(root string) int64 {
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max", or v1's page-rounded maximum: no limit.
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}

// parseByteSize reads a size as GOMEMLIMIT does: a number of bytes, or
// followed by KiB, MiB, GiB or TiB.
func parseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("not a size")
	}
	return n << shift, nil
}

// byteSize writes n in MiB.
func byteSize(n int64) string {
	return fmt.Sprintf("%d MiB", n>>20)
}
