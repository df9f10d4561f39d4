package main

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// nabFile is a real NAB series: a daily cycle of CPU with labelled anomalies.
const nabFile = "../../../shared/datasets/nab/data/realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"

func execAugur(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(augurBinary, args...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr), err
	}
	return string(out), err
}

func readRows(t *testing.T, text string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%.300s", err, text)
	}
	return rows
}

// TestDetect checks `augur detect`: NAB's results format, one row per
// input row, scores in [0,1], and online: the scores of the first rows do
// not change when later rows are added.
func TestDetect(t *testing.T) {
	out, err := execAugur(t, "detect", "--input="+nabFile)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rows := readRows(t, out)
	in, err := os.ReadFile(nabFile)
	if err != nil {
		t.Fatal(err)
	}
	inRows := readRows(t, string(in))
	if strings.Join(rows[0], ",") != "timestamp,value,anomaly_score" || len(rows) != len(inRows) {
		t.Fatalf("header %v and %d rows, want timestamp,value,anomaly_score and %d rows", rows[0], len(rows), len(inRows))
	}
	high := 0
	for _, r := range rows[1:] {
		s, err := strconv.ParseFloat(r[2], 64)
		if err != nil || s < 0 || s > 1 {
			t.Fatalf("row %v: score not in [0,1]", r)
		}
		if s > 0.5 {
			high++
		}
	}
	if high == 0 || high > len(rows)/20 {
		t.Errorf("%d of %d rows score above 0.5: want a few alarms, not none or a flood", high, len(rows))
	}

	// Online: detect on the first half gives the same scores for those rows.
	half := filepath.Join(t.TempDir(), "half.csv")
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.WriteAll(inRows[:len(inRows)/2])
	if err := os.WriteFile(half, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = execAugur(t, "detect", "--input="+half)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range readRows(t, out) {
		if r[2] != rows[i][2] {
			t.Fatalf("row %d: score %s on the first half, %s on the whole file: row t must use only rows <= t", i, r[2], rows[i][2])
		}
	}
}

// TestDetectWideAndForecast checks wide files (one entity) and `augur forecast`.
func TestDetectWideAndForecast(t *testing.T) {
	wide := filepath.Join("..", "..", "ingest", "testdata", "fleet", "db-1.csv")
	out, err := execAugur(t, "detect", "--input="+wide)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rows := readRows(t, out)
	want := "timestamp,cpu,memory,connections,anomaly_score_cpu,anomaly_score_memory,anomaly_score_connections,anomaly_evidence,failure_probability,factors"
	if strings.Join(rows[0], ",") != want {
		t.Errorf("header %v, want %s", rows[0], want)
	}

	dir := t.TempDir()
	out, err = execAugur(t, "forecast", "--input="+nabFile, "--horizon=12", "--output="+dir)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.Base(nabFile)))
	if err != nil {
		t.Fatal(err)
	}
	rows = readRows(t, string(b))
	if strings.Join(rows[0], ",") != "timestamp,forecast,lower,upper" || len(rows) != 13 {
		t.Fatalf("forecast: header %v, %d rows; want timestamp,forecast,lower,upper and 12 rows", rows[0], len(rows)-1)
	}
	prev := time.Time{}
	for _, r := range rows[1:] {
		ts, err := time.Parse(csvTimeLayout, r[0])
		if err != nil {
			t.Fatal(err)
		}
		f, _ := strconv.ParseFloat(r[1], 64)
		lo, _ := strconv.ParseFloat(r[2], 64)
		hi, _ := strconv.ParseFloat(r[3], 64)
		if !(lo <= f && f <= hi) {
			t.Errorf("%s: %v not in [%v, %v]", r[0], f, lo, hi)
		}
		if !prev.IsZero() && ts.Sub(prev) != 5*time.Minute {
			t.Errorf("%s: step %s, want the file's 5m", r[0], ts.Sub(prev))
		}
		prev = ts
	}
}

// TestDetectEntity checks the entity columns of a wide file, one of ASD's
// servers (19 metrics): scores in [0,1], factors that name columns, some
// rows the entity score finds extreme, and online: the first half's rows
// are the same on their own.
func TestDetectEntity(t *testing.T) {
	const wide = "../../../shared/datasets/asd/data/omi-2.csv"
	if _, err := os.Stat(wide); err != nil {
		t.Skipf("ASD dataset not present: %v", err)
	}
	out, err := execAugur(t, "detect", "--input="+wide)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rows := readRows(t, out)
	header := rows[0]
	cols := map[string]bool{}
	for _, c := range header[1:20] {
		cols[c] = true
	}
	n := len(header)
	if header[n-3] != "anomaly_evidence" || header[n-2] != "failure_probability" || header[n-1] != "factors" {
		t.Fatalf("header ends %v, want anomaly_evidence,failure_probability,factors", header[n-3:])
	}
	extreme := 0
	for _, r := range rows[1:] {
		for _, v := range r[n-3 : n-1] {
			if p, err := strconv.ParseFloat(v, 64); err != nil || p < 0 || p > 1 {
				t.Fatalf("row %v: %q not in [0,1]", r[0], v)
			}
		}
		if r[n-3] > "0.999" {
			extreme++
		}
		if r[n-1] == "" {
			continue
		}
		for _, f := range strings.Split(r[n-1], ";") {
			if !cols[f] {
				t.Fatalf("row %v: factor %q is not a column", r[0], f)
			}
		}
	}
	if extreme == 0 || extreme > len(rows)/10 {
		t.Errorf("%d of %d rows with an entity score above 0.999: want some, not a flood", extreme, len(rows))
	}

	half := filepath.Join(t.TempDir(), "half.csv")
	in, err := os.ReadFile(wide)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(in), "\n")
	if err := os.WriteFile(half, []byte(strings.Join(lines[:len(lines)/2], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = execAugur(t, "detect", "--input="+half)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range readRows(t, out) {
		if strings.Join(r, ",") != strings.Join(rows[i], ",") {
			t.Fatalf("row %d differs on the first half: %v, on the whole file: %v", i, r[n-3:], rows[i][n-3:])
		}
	}
}

// TestBatchErrors checks that bad input gives a precise error and no output.
func TestBatchErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"detect", "--input=" + bad, "--output=" + out}, "bad.csv:3"},
		{[]string{"forecast", "--input=" + bad, "--horizon=5"}, "bad.csv:3"},
		{[]string{"forecast", "--input=" + nabFile, "--horizon=0"}, "--horizon"},
		{[]string{"detect", "--input=" + dir}, "--output must be a folder"},
		{[]string{"detect", "--input=" + filepath.Join(dir, "missing.csv")}, "missing.csv"},
	} {
		msg, err := execAugur(t, c.args...)
		if err == nil || !strings.Contains(msg, c.want) {
			t.Errorf("augur %v: err %v, output %q; want a failure mentioning %q", c.args, err, msg, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bad.csv")); err == nil {
		t.Error("a failed detect left a partial output file")
	}
}

// TestWriteFile checks writeFile's cases: a new file, an existing one
// rewritten shorter in place, a failed write that leaves the old output
// as it was, a symbolic link and a hard link replaced rather than written
// through, and an output larger than maxInPlace streamed to a new file.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	write := func(s string) error {
		return writeFile(path, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
	}
	check := func(what, want string) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("%s: %q, %v; want %q", what, got, err, want)
		}
		if tmp, _ := filepath.Glob(filepath.Join(dir, ".augur-*")); len(tmp) > 0 {
			t.Fatalf("%s: temporary files left: %v", what, tmp)
		}
	}
	if err := write("a long first output\n"); err != nil {
		t.Fatal(err)
	}
	check("new file", "a long first output\n")
	before, _ := os.Stat(path)
	if err := write("short\n"); err != nil {
		t.Fatal(err)
	}
	check("rewritten", "short\n")
	if after, _ := os.Stat(path); !os.SameFile(before, after) {
		t.Error("an existing output was replaced, not rewritten in place")
	}
	failed := errors.New("no forecast")
	if err := writeFile(path, func(w io.Writer) error { io.WriteString(w, "partial"); return failed }); err != failed {
		t.Fatalf("failed write: %v, want %v", err, failed)
	}
	check("after a failure", "short\n")

	other := filepath.Join(dir, "other.csv")
	for _, link := range []func() error{
		func() error { return os.Symlink(other, path) },
		func() error { return os.Link(other, path) },
	} {
		if err := os.WriteFile(other, []byte("keep\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(path)
		if err := link(); err != nil {
			t.Fatal(err)
		}
		if err := write("new\n"); err != nil {
			t.Fatal(err)
		}
		check("over a link", "new\n")
		if got, _ := os.ReadFile(other); string(got) != "keep\n" {
			t.Errorf("writing over a link changed its target: %q", got)
		}
		if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("the output is not a regular file after writing over a link: %v, %v", fi, err)
		}
	}

	large := strings.Repeat("0123456789abcdef", maxInPlace/16+1)
	if err := write(large); err != nil {
		t.Fatal(err)
	}
	check("large", large)
}

// TestTableStep checks the median step of a table's timestamps: on a
// regular grid, with gaps and jitter, and the errors.
func TestTableStep(t *testing.T) {
	for _, c := range []struct {
		times []int64
		want  int64
		err   bool
	}{
		{[]int64{0, 300, 600, 900}, 300, false},
		{[]int64{0, 300, 600, 1500, 1800, 2100}, 300, false}, // a gap
		{[]int64{0, 290, 590, 900, 1200}, 300, false},        // jitter: steps 290, 300, 310, 300
		{[]int64{0, 60, 120, 120, 120, 120}, 0, true},        // duplicates: median step 0
		{[]int64{600, 300, 0}, 0, true},
		{[]int64{0, 300}, 0, true},
	} {
		got, err := tableStep(&ingest.Table{Times: c.times})
		if got != c.want || (err != nil) != c.err {
			t.Errorf("tableStep(%v) = %d, %v; want %d, error %v", c.times, got, err, c.want, c.err)
		}
	}
}
