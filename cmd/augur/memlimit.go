package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
)

// memoryLimitRatio is the share of the cgroup's memory limit that
// --memory.limit defaults to, as Prometheus 3's --auto-gomemlimit.ratio:
// the rest is left to what the Go runtime does not count (the page cache
// of the TSDB's memory-mapped files counts against a cgroup too) and to
// the kernel.
const memoryLimitRatio = 0.9

// memoryLimit returns the soft memory limit for the Go runtime
// (debug.SetMemoryLimit) and where it comes from: flag when the user set
// --memory.limit (0 lifts any limit), nothing when the environment sets
// GOMEMLIMIT (the runtime read it already), else memoryLimitRatio of the
// cgroup's limit when there is one. ok is false when the runtime's limit
// is to be left as it is.
func memoryLimit(flag int64, flagSet bool, env string, root fs.FS) (limit int64, from string, ok bool, err error) {
	switch {
	case flagSet && flag < 0:
		return 0, "", false, fmt.Errorf("--memory.limit must not be negative, got %d", flag)
	case flagSet && flag == 0:
		return math.MaxInt64, "--memory.limit=0 (none)", true, nil
	case flagSet:
		return flag, "--memory.limit", true, nil
	case env != "":
		return 0, "", false, nil
	}
	cg, found, err := cgroupMemoryLimit(root)
	if err != nil || !found {
		return 0, "", false, err
	}
	return int64(float64(cg) * memoryLimitRatio), fmt.Sprintf("%.0f%% of the cgroup's memory limit of %d bytes", memoryLimitRatio*100, cg), true, nil
}

// cgroupMemoryLimit returns the memory limit of the cgroup this process
// runs in, read under root (the file system's root): the least limit of
// its cgroup and their ancestors, in cgroup v2 (memory.max) or v1's memory
// controller (memory.limit_in_bytes). found is false when there is none:
// no cgroup file system, or no limit set.
func cgroupMemoryLimit(root fs.FS) (limit int64, found bool, err error) {
	b, err := fs.ReadFile(root, "proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cannot read the cgroup: %w", err)
	}
	// Each line is hierarchy-ID:controllers:path; v2's is 0::path.
	var dirs []string
	for sc := bufio.NewScanner(bytes.NewReader(b)); sc.Scan(); {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 || !strings.HasPrefix(f[2], "/") {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			dirs = append(dirs, cgroupDirs("sys/fs/cgroup", f[2], "memory.max")...)
		case strings.Contains(","+f[1]+",", ",memory,"):
			dirs = append(dirs, cgroupDirs("sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes")...)
		}
	}
	limit = math.MaxInt64
	for _, name := range dirs {
		b, err := fs.ReadFile(root, name)
		if errors.Is(err, fs.ErrNotExist) {
			// Inside a cgroup namespace or a container, the path may not
			// be mounted where the host's file says.
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("cannot read the cgroup's memory limit: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("cannot parse the cgroup's memory limit in %s: %q", name, s)
		}
		// Without a limit, v1 reports the page counter's maximum, about
		// 2^63 rounded down to a page: no machine has that much memory.
		if n < 1<<62 {
			limit = min(limit, n)
		}
	}
	return limit, limit != math.MaxInt64, nil
}

// cgroupDirs returns the file name in the cgroup at p under mount and in
// each of its ancestors up to the mount's root.
func cgroupDirs(mount, p, name string) []string {
	var names []string
	for p = path.Clean(p); ; p = path.Dir(p) {
		names = append(names, path.Join(mount, p, name))
		if p == "/" {
			return names
		}
	}
}
