package ingest

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Table is one CSV file: a timestamp column and one or more value columns,
// rows in file order (not sorted, duplicates kept: detect answers row by row).
type Table struct {
	// Name is the file name given to ReadCSV, used in messages.
	Name string
	// Times holds each row's timestamp in Unix milliseconds.
	Times []int64
	// Columns are the value columns' names, from the header.
	Columns []string
	// Values[col][row] is the value of a column in a row; NaN where missing.
	Values [][]float64
}

// Column returns the index of the column called name, or -1.
func (t *Table) Column(name string) int {
	return slices.Index(t.Columns, name)
}

// maxUnixSeconds bounds numeric timestamps (year 5138) so that milliseconds
// cannot overflow and a stray value column is not taken for time.
const maxUnixSeconds = 1e11

// timeLayouts are the textual timestamps ReadCSV accepts, all UTC unless
// they carry an offset.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// ReadCSV reads a CSV file with a header row: timestamp,value (NAB style) or
// timestamp,<name>,<name>,... (wide: one file is one entity). Timestamps are
// RFC 3339, YYYY-MM-DD HH:MM:SS (UTC) or Unix seconds (integer or decimal).
// Empty, NaN and ±Inf values are missing (NaN). Errors name the file, line
// and column, e.g. `data/db-1.csv:17: column "cpu": cannot parse "abc" as a
// number`.
func ReadCSV(r io.Reader, name string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, expected a header row like timestamp,value", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	header = slices.Clone(header) // ReuseRecord: the next Read overwrites it
	if len(header) < 2 {
		return nil, fmt.Errorf("%s:1: header has %d column, expected a timestamp column and at least one value column", name, len(header))
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // Excel's byte-order mark
	if _, ok := parseTimestamp(strings.TrimSpace(header[0])); ok {
		return nil, fmt.Errorf("%s:1: missing header row, expected e.g. timestamp,value", name)
	}
	t := &Table{Name: name, Columns: make([]string, len(header)-1)}
	for i, h := range header[1:] {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			return nil, fmt.Errorf("%s:1: column %d has an empty name", name, i+2)
		case slices.Contains(t.Columns[:i], h):
			return nil, fmt.Errorf("%s:1: duplicate column %q", name, h)
		}
		t.Columns[i] = h
	}
	t.Values = make([][]float64, len(t.Columns))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: expected %d fields as in the header, got %d", name, line, len(header), len(rec))
		}
		ts := strings.TrimSpace(rec[0])
		ms, ok := parseTimestamp(ts)
		if !ok {
			return nil, fmt.Errorf("%s:%d: column %q: cannot parse %q as a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or Unix seconds)", name, line, strings.TrimSpace(header[0]), ts)
		}
		t.Times = append(t.Times, ms)
		for i, f := range rec[1:] {
			f = strings.TrimSpace(f)
			v, ok := parseValue(f)
			if !ok {
				return nil, fmt.Errorf("%s:%d: column %q: cannot parse %q as a number", name, line, t.Columns[i], f)
			}
			t.Values[i] = append(t.Values[i], v)
		}
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("cannot read %s: %w", name, err)
}

func parseTimestamp(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.Abs(f) > maxUnixSeconds {
			return 0, false
		}
		return int64(math.Round(f * 1000)), true
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func parseValue(s string) (float64, bool) {
	if s == "" {
		return math.NaN(), true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	if math.IsInf(v, 0) {
		return math.NaN(), true
	}
	return v, true
}

// CSVSource serves a folder of CSV files: a query names a column, and every
// file that has it yields one series labelled file=<name without .csv>. Its
// Now is the latest timestamp in any file (offline analysis). The files are
// read once, by NewCSVSource; a CSVSource is then safe for concurrent use.
type CSVSource struct {
	dir     string
	files   []csvFile // sorted by entity
	columns []string  // all column names, sorted, for error messages
	now     time.Time
	// MaxGap is the longest gap Range interpolates (see Align); longer gaps
	// stay missing. NewCSVSource sets 5 minutes; change it before first use.
	MaxGap time.Duration
}

type csvFile struct {
	entity  string
	columns map[string][]Sample // sorted by time, so Align never reorders them
}

// NewCSVSource reads every *.csv file in dir (not recursing).
func NewCSVSource(dir string) (*CSVSource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read CSV folder: %w", err)
	}
	src := &CSVSource{dir: dir, MaxGap: 5 * time.Minute}
	latest := int64(math.MinInt64)
	for _, e := range entries {
		base := e.Name()
		if !e.Type().IsRegular() || !strings.EqualFold(filepath.Ext(base), ".csv") {
			continue
		}
		path := filepath.Join(dir, base)
		t, err := readCSVFile(path)
		if err != nil {
			return nil, err
		}
		f := csvFile{entity: strings.TrimSuffix(base, filepath.Ext(base)), columns: make(map[string][]Sample, len(t.Columns))}
		for c, col := range t.Columns {
			s := make([]Sample, len(t.Times))
			for i, ms := range t.Times {
				s[i] = Sample{T: ms, V: t.Values[c][i]}
			}
			slices.SortStableFunc(s, cmpSampleTime)
			f.columns[col] = s
			if !slices.Contains(src.columns, col) {
				src.columns = append(src.columns, col)
			}
		}
		for _, ms := range t.Times {
			latest = max(latest, ms)
		}
		src.files = append(src.files, f)
	}
	if len(src.files) == 0 {
		return nil, fmt.Errorf("cannot use CSV folder %s: no *.csv files in it", dir)
	}
	if latest == math.MinInt64 {
		return nil, fmt.Errorf("cannot use CSV folder %s: its files have no rows", dir)
	}
	slices.SortFunc(src.files, func(a, b csvFile) int { return strings.Compare(a.entity, b.entity) })
	slices.Sort(src.columns)
	src.now = time.UnixMilli(latest).UTC()
	return src, nil
}

func readCSVFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open CSV file: %w", err)
	}
	defer f.Close()
	return ReadCSV(f, path)
}

// Now returns the latest timestamp over all files.
func (s *CSVSource) Now() time.Time { return s.now }

// Range returns, for each file with the column named by query, its values
// aligned onto the grid start + k·step ≤ end; files with no value in the
// range are left out. A column no file has is an error.
func (s *CSVSource) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	col := strings.TrimSpace(query)
	if step <= 0 {
		return nil, fmt.Errorf("cannot query CSV column %q: step must be positive, got %s", col, step)
	}
	if !slices.Contains(s.columns, col) {
		return nil, fmt.Errorf("no CSV file in %s has a column %q (columns: %s)", s.dir, col, strings.Join(s.columns, ", "))
	}
	stepMs := max(step.Milliseconds(), 1)
	maxGap := int(s.MaxGap / step)
	out := []Series{}
	for _, f := range s.files {
		in, ok := f.columns[col]
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cannot query CSV column %q: %w", col, err)
		}
		samples := Align(nil, in, start.UnixMilli(), end.UnixMilli(), stepMs, maxGap)
		if !slices.ContainsFunc(samples, func(x Sample) bool { return !math.IsNaN(x.V) }) {
			continue
		}
		out = append(out, Series{Labels: map[string]string{"file": f.entity}, Samples: samples})
	}
	return out, nil
}
