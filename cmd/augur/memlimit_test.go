package main

import (
	"math"
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryLimit(t *testing.T) {
	const v1Unlimited = "9223372036854771712\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  int64 // 0: none found
		err   bool
	}{
		{name: "no cgroup file system"},
		{name: "v2 limit", files: map[string]string{
			"proc/self/cgroup": "0::/system.slice/augur.service\n",
			"sys/fs/cgroup/system.slice/augur.service/memory.max": "2147483648\n",
			"sys/fs/cgroup/system.slice/memory.max":               "max\n",
		}, want: 2 << 30},
		{name: "v2 without limit", files: map[string]string{
			"proc/self/cgroup": "0::/system.slice/augur.service\n",
			"sys/fs/cgroup/system.slice/augur.service/memory.max": "max\n",
		}},
		{name: "v2 a parent's lower limit", files: map[string]string{
			"proc/self/cgroup": "0::/kubepods/pod1/augur\n",
			"sys/fs/cgroup/kubepods/pod1/augur/memory.max": "4294967296\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":       "1073741824\n",
			"sys/fs/cgroup/kubepods/memory.max":            "max\n",
		}, want: 1 << 30},
		{name: "v2 in a cgroup namespace", files: map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "536870912\n",
		}, want: 512 << 20},
		{name: "v2 path not mounted, the root's limit", files: map[string]string{
			"proc/self/cgroup":         "0::/docker/abc\n",
			"sys/fs/cgroup/memory.max": "536870912\n",
		}, want: 512 << 20},
		{name: "v1 limit", files: map[string]string{
			"proc/self/cgroup": "12:pids:/\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
			"sys/fs/cgroup/memory/docker/memory.limit_in_bytes":     v1Unlimited,
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            v1Unlimited,
		}, want: 1 << 30},
		{name: "v1 controllers listed together", files: map[string]string{
			"proc/self/cgroup": "4:cpu,memory:/a\n",
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes": "1073741824\n",
		}, want: 1 << 30},
		{name: "v1 without limit (this machine's layout)", files: map[string]string{
			"proc/self/cgroup": "4:memory:/process_api/e71a\n0::/\n",
			"sys/fs/cgroup/memory/process_api/e71a/memory.limit_in_bytes": v1Unlimited,
			"sys/fs/cgroup/memory/process_api/memory.limit_in_bytes":      v1Unlimited,
			"sys/fs/cgroup/memory/memory.limit_in_bytes":                  v1Unlimited,
		}},
		{name: "not a memory controller", files: map[string]string{
			"proc/self/cgroup": "4:memoryx:/a\n",
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes": "1073741824\n",
		}},
		{name: "garbage limit", files: map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "lots\n",
		}, err: true},
		{name: "negative limit", files: map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "-1\n",
		}, err: true},
		{name: "garbage cgroup lines", files: map[string]string{
			"proc/self/cgroup": "nonsense\n::\n0::relative\n",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, data := range c.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			got, found, err := cgroupMemoryLimit(fsys)
			if (err != nil) != c.err {
				t.Fatalf("error %v, want one: %v", err, c.err)
			}
			if found != (c.want != 0) || got != c.want && found {
				t.Errorf("got %d (found %v), want %d", got, found, c.want)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	cgroup := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("1000000000\n")},
	}
	for _, c := range []struct {
		name    string
		flag    int64
		flagSet bool
		env     string
		root    fstest.MapFS
		want    int64
		ok, err bool
	}{
		{name: "90 % of the cgroup's limit", root: cgroup, want: 900000000, ok: true},
		{name: "no cgroup limit: none set", root: fstest.MapFS{}},
		{name: "GOMEMLIMIT wins over the cgroup", env: "2GiB", root: cgroup},
		{name: "the flag wins over GOMEMLIMIT", flag: 1 << 30, flagSet: true, env: "2GiB", root: cgroup, want: 1 << 30, ok: true},
		{name: "0 lifts the limit", flagSet: true, root: cgroup, want: math.MaxInt64, ok: true},
		{name: "negative", flag: -1, flagSet: true, root: cgroup, err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, from, ok, err := memoryLimit(c.flag, c.flagSet, c.env, c.root)
			if (err != nil) != c.err || ok != c.ok || got != c.want {
				t.Errorf("got %d, %v (%q), %v; want %d, %v, error %v", got, ok, from, err, c.want, c.ok, c.err)
			}
			if ok && from == "" {
				t.Error("a limit set without saying where it comes from")
			}
		})
	}
}

// FuzzCgroupMemoryLimit feeds arbitrary cgroup and limit files: no panic,
// and a limit found is positive.
func FuzzCgroupMemoryLimit(f *testing.F) {
	f.Add("0::/a/b\n", "1073741824\n")
	f.Add("4:memory:/x\n", "max")
	f.Add("0::/../..\n", "9223372036854771712")
	f.Fuzz(func(t *testing.T, cgroup, limit string) {
		fsys := fstest.MapFS{"proc/self/cgroup": {Data: []byte(cgroup)}}
		for _, d := range []string{"sys/fs/cgroup", "sys/fs/cgroup/memory"} {
			fsys[d+"/memory.max"] = &fstest.MapFile{Data: []byte(limit)}
			fsys[d+"/memory.limit_in_bytes"] = &fstest.MapFile{Data: []byte(limit)}
			fsys[d+"/a/memory.max"] = &fstest.MapFile{Data: []byte(limit)}
		}
		n, found, err := cgroupMemoryLimit(fsys)
		if found && (err != nil || n < 0) {
			t.Errorf("found %d with error %v", n, err)
		}
	})
}
