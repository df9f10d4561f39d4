package ingest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadCSVNAB(t *testing.T) {
	f, err := os.Open("testdata/csv/nab.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := ReadCSV(f, "nab.csv")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2014, 4, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	if want := []int64{t0, t0 + 300000, t0 + 600000, t0 + 900000}; !reflect.DeepEqual(tab.Times, want) {
		t.Errorf("Times = %v, want %v", tab.Times, want)
	}
	if !reflect.DeepEqual(tab.Columns, []string{"value"}) || tab.Column("value") != 0 || tab.Column("cpu") != -1 {
		t.Errorf("Columns = %v", tab.Columns)
	}
	v := tab.Values[0]
	if len(v) != 4 || v[0] != 20 || v[1] != 21.5 || !math.IsNaN(v[2]) || v[3] != 19.25 {
		t.Errorf("Values = %v, want [20 21.5 NaN 19.25]", v)
	}
}

func TestReadCSV(t *testing.T) {
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		name    string
		in      string
		times   []int64
		columns []string
		values  [][]float64
	}{
		{"unix seconds", "timestamp,value\n1700000000,1\n1700000060.25,2\n", []int64{1700000000000, 1700000060250}, []string{"value"}, [][]float64{{1, 2}}},
		{"rfc3339 with offset", "timestamp,value\n2026-03-10T01:00:00+01:00,1\n2026-03-10T00:00:00.5Z,2\n",
			[]int64{ms("2026-03-10T00:00:00Z"), ms("2026-03-10T00:00:00.5Z")}, []string{"value"}, [][]float64{{1, 2}}},
		{"space-separated UTC", "timestamp,value\n2026-03-10 00:00:00,1\n2026-03-10 00:00:01.250,2\n",
			[]int64{ms("2026-03-10T00:00:00Z"), ms("2026-03-10T00:00:01.25Z")}, []string{"value"}, [][]float64{{1, 2}}},
		{"wide with missing values", "timestamp, cpu ,mem\n0,1,\n60,NaN,3\n120,inf,-4e2\n", []int64{0, 60000, 120000},
			[]string{"cpu", "mem"}, [][]float64{{1, math.NaN(), math.NaN()}, {math.NaN(), 3, -400}}},
		{"byte-order mark, CRLF, blank lines", "\ufefftime,value\r\n\r\n5,1\r\n", []int64{5000}, []string{"value"}, [][]float64{{1}}},
		{"quoted fields", "\"timestamp\",\"a,b\"\n\"10\",\"2.5\"\n", []int64{10000}, []string{"a,b"}, [][]float64{{2.5}}},
		{"header only", "timestamp,value\n", nil, []string{"value"}, [][]float64{nil}},
		{"rows kept in file order", "timestamp,value\n60,2\n0,1\n60,3\n", []int64{60000, 0, 60000}, []string{"value"}, [][]float64{{2, 1, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(tc.in), "x.csv")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tab.Times, tc.times) || !slices.Equal(tab.Columns, tc.columns) {
				t.Errorf("got times %v columns %v, want %v %v", tab.Times, tab.Columns, tc.times, tc.columns)
			}
			if len(tab.Values) != len(tc.values) {
				t.Fatalf("got %d value columns, want %d", len(tab.Values), len(tc.values))
			}
			for c := range tc.values {
				if !sameSamples(asSamples(tab.Values[c]), asSamples(tc.values[c])) {
					t.Errorf("column %d = %v, want %v", c, tab.Values[c], tc.values[c])
				}
			}
		})
	}
}

func asSamples(v []float64) []Sample {
	s := make([]Sample, len(v))
	for i := range v {
		s[i].V = v[i]
	}
	return s
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "data/db-1.csv: empty file, expected a header row like timestamp,value"},
		{"bad number", "timestamp,cpu\n0,1\n60,abc\n", `data/db-1.csv:3: column "cpu": cannot parse "abc" as a number`},
		{"bad number in a wide file", "timestamp,cpu,mem\n0,1,2\n\n60,3,1.2.3\n", `data/db-1.csv:4: column "mem": cannot parse "1.2.3" as a number`},
		{"bad timestamp", "timestamp,cpu\nyesterday,1\n", `data/db-1.csv:2: column "timestamp": cannot parse "yesterday" as a timestamp`},
		{"timestamp out of range", "timestamp,cpu\n1e300,1\n", `data/db-1.csv:2: column "timestamp": cannot parse "1e300" as a timestamp`},
		{"NaN timestamp", "timestamp,cpu\nNaN,1\n", `data/db-1.csv:2: column "timestamp": cannot parse "NaN" as a timestamp`},
		{"field count", "timestamp,cpu\n0,1\n60,1,2\n", "data/db-1.csv:3: expected 2 fields as in the header, got 3"},
		{"missing header", "0,1\n60,2\n", "data/db-1.csv:1: missing header row, expected e.g. timestamp,value"},
		{"one column", "timestamp\n0\n", "data/db-1.csv:1: header has 1 column, expected a timestamp column and at least one value column"},
		{"duplicate column", "timestamp,cpu,cpu\n", `data/db-1.csv:1: duplicate column "cpu"`},
		{"empty column name", "timestamp,cpu,\n", "data/db-1.csv:1: column 3 has an empty name"},
		{"bare quote", "timestamp,cpu\n0,1\n6\"0,2\n", `data/db-1.csv:3: bare " in non-quoted-field`},
		{"unterminated quote", "timestamp,cpu\n0,\"1\n", `data/db-1.csv:2: extraneous or missing " in quoted-field`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), "data/db-1.csv")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestCSVSource(t *testing.T) {
	src, err := NewCSVSource("testdata/fleet")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	if want := t0.Add(5*time.Minute + 500*time.Millisecond); !src.Now().Equal(want) {
		t.Errorf("Now() = %s, want the latest row %s", src.Now(), want)
	}
	ctx := context.Background()
	grid := func(vs ...float64) []Sample {
		s := make([]Sample, len(vs))
		for i, v := range vs {
			s[i] = Sample{T: t0.Add(time.Duration(i) * time.Minute).UnixMilli(), V: v}
		}
		return s
	}
	tests := []struct {
		column string
		maxGap time.Duration
		want   map[string][]Sample
	}{
		// db-1: rows out of order, a duplicate (last wins) and an offset time;
		// web-1: a 2-step gap and a last row half a second after the grid point.
		{"cpu", 5 * time.Minute, map[string][]Sample{
			"db-1":  grid(10, 12, 13, 14, 16, 17),
			"web-1": grid(40, 41, 42, 43, 44, nan),
		}},
		{"cpu", 0, map[string][]Sample{
			"db-1":  grid(10, 12, 13, 14, 16, 17),
			"web-1": grid(40, 41, nan, nan, 44, nan),
		}},
		{" connections ", 5 * time.Minute, map[string][]Sample{"db-1": grid(80, 82, 86, 90, 96, 97)}},
		{"memory", time.Minute, map[string][]Sample{"db-1": grid(70, 70.5, 71, 71.5, 72, 73)}},
	}
	for _, tc := range tests {
		src.MaxGap = tc.maxGap
		ss, err := src.Range(ctx, tc.column, t0, t0.Add(5*time.Minute), time.Minute)
		if err != nil {
			t.Fatalf("Range(%q): %v", tc.column, err)
		}
		got := map[string][]Sample{}
		for _, s := range ss {
			if len(s.Labels) != 1 {
				t.Errorf("labels %v, want only file", s.Labels)
			}
			got[s.Labels["file"]] = s.Samples
		}
		if len(got) != len(tc.want) {
			t.Errorf("Range(%q) files %v, want %d", tc.column, got, len(tc.want))
		}
		for file, want := range tc.want {
			if !sameSamples(got[file], want) {
				t.Errorf("Range(%q, max gap %s) %s = %v\nwant %v", tc.column, tc.maxGap, file, got[file], want)
			}
		}
	}

	ss, err := src.Range(ctx, "cpu", t0.Add(24*time.Hour), t0.Add(25*time.Hour), time.Minute)
	if err != nil || len(ss) != 0 {
		t.Errorf("range without data: %v, %v; want no series", ss, err)
	}
	_, err = src.Range(ctx, "disk", t0, t0.Add(time.Hour), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "columns: connections, cpu, memory, requests") {
		t.Errorf("unknown column: error %v should list the columns", err)
	}
	if _, err := src.Range(ctx, "cpu", t0, t0.Add(time.Hour), 0); err == nil {
		t.Error("zero step: want an error")
	}
}

func TestNewCSVSourceErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewCSVSource(dir); err == nil || !strings.Contains(err.Error(), "no *.csv files") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := NewCSVSource(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing folder: want an error")
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("timestamp,cpu\n0,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCSVSource(dir); err == nil || !strings.HasPrefix(err.Error(), bad+":2: ") {
		t.Errorf("bad file: error %v should start with %s:2:", err, bad)
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, file := range []string{"testdata/csv/nab.csv", "testdata/fleet/db-1.csv", "testdata/fleet/web-1.csv"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("timestamp,a,b\n1,,2\n\"2\",3,\"4\n"))
	f.Add([]byte("time,v\r\n\r\n \t1700000000 , 2\r\r\n2026-03-10 00:00:00.5,\r\n\r"))
	f.Add([]byte("\ufeff timestamp, a\n2026-03-10T01:00:00+01:00,1\n 2026-02-30 00:00:00,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ReadCSV(strings.NewReader(string(data)), "fuzz.csv")
		if !strings.Contains(string(data), `"`) {
			// The in-place splitter must read a file as encoding/csv does.
			want, werr := readRecords(csvRecords(strings.NewReader(string(data))), "fuzz.csv", 0)
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("error %v, encoding/csv's %v", err, werr)
			}
			if err == nil && !sameTable(tab, want) {
				t.Fatalf("table %+v, encoding/csv's %+v", tab, want)
			}
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(tab.Values) != len(tab.Columns) || len(tab.Columns) == 0 {
			t.Fatalf("%d value columns for %d names", len(tab.Values), len(tab.Columns))
		}
		for c, v := range tab.Values {
			if len(v) != len(tab.Times) {
				t.Fatalf("column %d has %d values for %d rows", c, len(v), len(tab.Times))
			}
			for _, x := range v {
				if math.IsInf(x, 0) {
					t.Fatalf("column %d holds %v; non-finite values must be missing", c, x)
				}
			}
		}
	})
}

// TestCSVSourceConcurrent lets the race detector check that Range never
// writes to the shared tables (Align only reorders unsorted input).
func TestCSVSourceConcurrent(t *testing.T) {
	src, err := NewCSVSource("testdata/fleet")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := src.Range(context.Background(), "cpu", t0, t0.Add(5*time.Minute), 30*time.Second)
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func sameTable(a, b *Table) bool {
	if a.Name != b.Name || !slices.Equal(a.Times, b.Times) || !slices.Equal(a.Columns, b.Columns) || len(a.Values) != len(b.Values) {
		return false
	}
	for c := range a.Values {
		if !slices.EqualFunc(a.Values[c], b.Values[c], func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }) {
			return false
		}
	}
	return true
}

// TestReadCSVReusesBuffers: ReadCSV reuses its file buffers, so a table
// must not point into the bytes it was read from: reading other files
// (with other column names, and one that fails) leaves it as it was.
func TestReadCSVReusesBuffers(t *testing.T) {
	read := func(data string) (*Table, error) { return ReadCSV(strings.NewReader(data), "t.csv") }
	first := "timestamp,cpu,memory\n2024-01-01 00:00:00,1.5,2\n2024-01-01 00:05:00,,3\n"
	tab, err := read(first)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readRecords(csvRecords(strings.NewReader(first)), "t.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{
		"timestamp,xyz,abcdef\n2025-06-01 12:00:00,9,9\n2025-06-01 12:05:00,8,8\n",
		"zzzzzzzzz,yyy,xxxxxx\n2025-06-01 12:00:00,bad,9\n",
		strings.Repeat("#", 200),
	} {
		read(other)
		if !sameTable(tab, want) {
			t.Fatalf("after reading %.20q: table %+v, want %+v", other, tab, want)
		}
	}
	if _, err := read("timestamp,value\n2024-01-01 00:00:00,abc\n"); err == nil || !strings.Contains(err.Error(), `"abc"`) {
		t.Fatalf("error %v, want one quoting \"abc\"", err)
	} else if read(strings.Repeat("x", 100)); !strings.Contains(err.Error(), `"abc"`) {
		t.Fatalf("an error message changed when the buffer was reused: %v", err)
	}
}

// FuzzParseTimestamp checks that the ISO 8601 fast path reads what it
// accepts as time.Parse does.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2024-01-01 00:00:00", "2026-03-10T01:00:00+01:00", "2026-03-10T00:00:00.5Z", "2026-03-10 00:00:01.250",
		"1969-12-31T23:59:59.999-00:30", "2024-02-29 12:00:00", "2023-02-29 12:00:00", "0000-01-01T00:00:00Z",
		"9999-12-31 23:59:59.123456789+23:59", "2026-03-10T24:00:00", "2026-03-10 1:00:00", "1700000060.25",
		"2026-03-10T00:00:00.1234567891Z", "2026-03-10t00:00:00z", "2026-13-01 00:00:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTimestamp(s)
		want, wok := parseTimestampLayouts(s)
		if got != want || ok != wok {
			t.Fatalf("parseTimestamp(%q) = %d, %v; time.Parse reads %d, %v", s, got, ok, want, wok)
		}
	})
}

// FuzzParseValue checks parseValue against strconv.ParseFloat, which its
// fast path (parseDecimal) must agree with bit for bit.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{
		"27.4923", "-0", "-0.0", "+1.5", ".5", "5.", ".", "-", "1e5", "0x1p-2", "1_000", "NaN", "-Inf",
		"9007199254740991", "9007199254740993", "1234567890123456789", "12345678901234567890",
		"0.0000000000000000000001", "0.1234567890123456789", "00000000000000000001.5", " 1", "1..2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseValue(s)
		want, err := strconv.ParseFloat(s, 64)
		switch {
		case s == "" || err == nil && (math.IsNaN(want) || math.IsInf(want, 0)):
			if !ok || !math.IsNaN(got) {
				t.Fatalf("parseValue(%q) = %v, %v; want missing", s, got, ok)
			}
		case err != nil:
			if ok {
				t.Fatalf("parseValue(%q) = %v, true; strconv: %v", s, got, err)
			}
		case !ok || math.Float64bits(got) != math.Float64bits(want):
			t.Fatalf("parseValue(%q) = %v (%#x), %v; strconv reads %v (%#x)", s, got, math.Float64bits(got), ok, want, math.Float64bits(want))
		}
	})
}

// TestParseDecimal compares the fast path with strconv.ParseFloat on
// random decimals of its shape, up to and past its limits (FuzzParseValue
// rarely builds long digit strings by itself), and checks that it takes
// the usual ones.
func TestParseDecimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(754, 1990))
	fast := 0
	for range 200_000 {
		digits := strconv.FormatUint(rng.Uint64(), 10) + strconv.FormatUint(rng.Uint64(), 10)
		s := digits[:1+rng.IntN(22)]
		if p := rng.IntN(len(s) + 1); p < len(s) || rng.IntN(2) == 0 {
			s = s[:p] + "." + s[p:]
		}
		s = []string{"", "-", "+"}[rng.IntN(3)] + s
		want, err := strconv.ParseFloat(s, 64)
		got, ok := parseValue(s)
		if err != nil || !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseValue(%q) = %v, %v; strconv reads %v, %v", s, got, ok, want, err)
		}
		if _, ok := parseDecimal(s); ok {
			fast++
		}
	}
	if fast < 100_000 {
		t.Errorf("only %d of 200,000 decimals took the fast path", fast)
	}
}

// TestReadCSVAllocations: reading a file allocates per file and per
// column, not per row.
func TestReadCSVAllocations(t *testing.T) {
	allocs := func(rows int) float64 {
		data := weekCSV(rows, "2006-01-02 15:04:05")
		return testing.AllocsPerRun(5, func() {
			if _, err := ReadCSV(strings.NewReader(data), "week.csv"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if small, large := allocs(100), allocs(10_000); large > small {
		t.Errorf("%v allocations for 10,000 rows, %v for 100: some are per row", large, small)
	}
}

// weekCSV is rows of a 5-minute series with timestamps in layout (or Unix
// seconds for "unix").
func weekCSV(rows int, layout string) string {
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		ts := t0.Add(time.Duration(i) * 5 * time.Minute)
		if layout == "unix" {
			b.WriteString(strconv.FormatInt(ts.Unix(), 10))
		} else {
			b.WriteString(ts.Format(layout))
		}
		fmt.Fprintf(&b, ",%.4f\n", 50+10*math.Sin(float64(i)/45.8))
	}
	return b.String()
}

// BenchmarkReadCSV reads a week at 5 minutes (bench/forecast.sh's files)
// with each common timestamp form, and the same file quoted (encoding/csv).
func BenchmarkReadCSV(b *testing.B) {
	for _, bc := range []struct{ name, layout string }{
		{"space", "2006-01-02 15:04:05"},
		{"rfc3339", time.RFC3339},
		{"unix", "unix"},
	} {
		data := weekCSV(2016, bc.layout)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ReadCSV(strings.NewReader(data), "week.csv"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	quoted := strings.ReplaceAll(weekCSV(2016, "2006-01-02 15:04:05"), "timestamp,", `"timestamp",`)
	b.Run("quoted", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(quoted)))
		for b.Loop() {
			if _, err := ReadCSV(strings.NewReader(quoted), "week.csv"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestParseTimestampFastPath compares the fast path with time.Parse on
// random strings of its shape, in and out of range (FuzzParseTimestamp
// rarely finds the shape by itself).
func TestParseTimestampFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3339, 8601))
	fast, cached := 0, 0
	var ts timestamps // shared, as by the rows of a file
	date := ""
	for i := range 200_000 {
		if i%2 == 0 { // else the last date again, as in a file, for ts' cache
			date = fmt.Sprintf("%04d-%02d-%02d", rng.IntN(10000), rng.IntN(14), rng.IntN(33))
		}
		s := fmt.Sprintf("%s%c%02d:%02d:%02d", date, " T"[rng.IntN(2)], rng.IntN(26), rng.IntN(61), rng.IntN(61))
		if rng.IntN(2) == 0 {
			s += "." + strconv.FormatUint(rng.Uint64(), 10)[:1+rng.IntN(12)]
		}
		switch rng.IntN(4) {
		case 1:
			s += "Z"
		case 2:
			s += fmt.Sprintf("%c%02d:%02d", "+-"[rng.IntN(2)], rng.IntN(26), rng.IntN(61))
		case 3:
			s += []string{"z", "+0100", "+01", " ", "Z ", "+01:00:00"}[rng.IntN(6)]
		}
		got, ok := parseTimestamp(s)
		want, wok := parseTimestampLayouts(s)
		if got != want || ok != wok {
			t.Fatalf("parseTimestamp(%q) = %d, %v; time.Parse reads %d, %v", s, got, ok, want, wok)
		}
		if _, ok := parseISOTime(s); ok {
			fast++
		}
		hit := len(s) >= 10 && s[:10] == ts.date
		if got, ok := ts.parse(s); got != want || ok != wok {
			t.Fatalf("after %q, parse(%q) = %d, %v; time.Parse reads %d, %v", ts.date, s, got, ok, want, wok)
		}
		if hit {
			cached++
		}
	}
	if fast < 50_000 || cached < 10_000 {
		t.Errorf("only %d of 200,000 strings took the fast path, %d with a cached date", fast, cached)
	}
}
