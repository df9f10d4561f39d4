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
	"sync"
	"time"
	"unicode"
	"unsafe"
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
//
// The input is read whole. A file without a double quote, the usual case,
// is split into lines and fields in place (lineRecords), with the fields
// encoding/csv would give, so that nothing is allocated per row; one with
// quotes goes through encoding/csv.
func ReadCSV(r io.Reader, name string) (*Table, error) {
	bp, _ := readBuffers.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf, err := readAll(r, *bp)
	defer func() {
		if cap(buf) <= maxPooledRead {
			*bp = buf[:0]
			readBuffers.Put(bp)
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	// The bytes are not written while data is in use, and nothing that
	// ReadCSV returns points into them (names are cloned, messages quote
	// copies): viewed as a string without a copy, they can be reused.
	data := unsafe.String(unsafe.SliceData(buf), len(buf))
	if strings.IndexByte(data, '"') >= 0 {
		return readRecords(csvRecords(strings.NewReader(data)), name, 0)
	}
	return readRecords(&lineRecords{data: data}, name, strings.Count(data, "\n")+1)
}

// readBuffers hold ReadCSV's file buffers for reuse, those of files up to
// maxPooledRead bytes: a command reading many files then allocates about
// one per worker rather than one per file.
var readBuffers sync.Pool

const maxPooledRead = 16 << 20

// readAll reads r to its end into buf's storage, growing it as needed. A
// regular file is read into a buffer of its size, in two reads (the
// second sees the end), rather than through io.Copy's 32 KB buffer.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	size := 4096
	if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			size = int(fi.Size()) + 1
		}
	}
	buf = slices.Grow(buf[:0], size)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf)) // the file grew since Stat, or is not a file
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// records yields a CSV file's records: next advances to the next one and
// says how many fields it has and the line it starts on, io.EOF after the
// last; field(i) is its field i, valid until the next call of next.
type records interface {
	next() (fields, line int, err error)
	field(i int) string
}

// readRecords builds a Table from recs; rows is a guess of the number of
// rows, to size the columns once.
func readRecords(recs records, name string, rows int) (*Table, error) {
	nFields, _, err := recs.next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, expected a header row like timestamp,value", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	if nFields < 2 {
		return nil, fmt.Errorf("%s:1: header has %d column, expected a timestamp column and at least one value column", name, nFields)
	}
	timeColumn := strings.TrimSpace(strings.TrimPrefix(recs.field(0), "\ufeff")) // Excel's byte-order mark
	if _, ok := parseTimestamp(timeColumn); ok {
		return nil, fmt.Errorf("%s:1: missing header row, expected e.g. timestamp,value", name)
	}
	timeColumn = strings.Clone(timeColumn) // the field is reused, and must not pin the file
	t := &Table{Name: name, Columns: make([]string, nFields-1), Times: make([]int64, 0, rows)}
	for i := range t.Columns {
		h := strings.TrimSpace(recs.field(i + 1))
		switch {
		case h == "":
			return nil, fmt.Errorf("%s:1: column %d has an empty name", name, i+2)
		case slices.Contains(t.Columns[:i], h):
			return nil, fmt.Errorf("%s:1: duplicate column %q", name, h)
		}
		t.Columns[i] = strings.Clone(h)
	}
	t.Values = make([][]float64, len(t.Columns))
	for i := range t.Values {
		t.Values[i] = make([]float64, 0, rows)
	}
	var times timestamps
	for {
		n, line, err := recs.next()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		if n != nFields {
			return nil, fmt.Errorf("%s:%d: expected %d fields as in the header, got %d", name, line, nFields, n)
		}
		ts := strings.TrimSpace(recs.field(0))
		ms, ok := times.parse(ts)
		if !ok {
			return nil, fmt.Errorf("%s:%d: column %q: cannot parse %q as a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or Unix seconds)", name, line, timeColumn, ts)
		}
		t.Times = append(t.Times, ms)
		for i := range t.Columns {
			f := strings.TrimSpace(recs.field(i + 1))
			v, ok := parseValue(f)
			if !ok {
				return nil, fmt.Errorf("%s:%d: column %q: cannot parse %q as a number", name, line, t.Columns[i], f)
			}
			t.Values[i] = append(t.Values[i], v)
		}
	}
}

// csvReader reads records with encoding/csv, for files with quotes.
type csvReader struct {
	r   *csv.Reader
	rec []string
}

func csvRecords(r io.Reader) *csvReader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	return &csvReader{r: cr}
}

func (r *csvReader) next() (int, int, error) {
	rec, err := r.r.Read()
	if err != nil {
		return 0, 0, err
	}
	r.rec = rec
	line, _ := r.r.FieldPos(0)
	return len(rec), line, nil
}

func (r *csvReader) field(i int) string { return r.rec[i] }

// lineRecords splits a file without double quotes as encoding/csv does
// (with TrimLeadingSpace and FieldsPerRecord -1): a record per line, "\r\n"
// read as "\n", empty lines skipped, fields split at every comma and their
// leading white space trimmed. Without quotes a record cannot span lines
// nor fail to parse. The fields are substrings of data. The current record
// is held as offsets into data (of the record and of its commas), not as
// strings: each string stored would cost a write barrier while the
// collector marks, which in a short-lived process with a small heap is
// much of the time.
type lineRecords struct {
	data     string
	pos      int   // start of the rest of data
	line     int   // line number of the current record
	from, to int   // the current record is data[from:to]
	commas   []int // offsets of its commas in data
}

func (r *lineRecords) next() (int, int, error) {
	for r.pos < len(r.data) {
		from, to := r.pos, len(r.data)
		if i := strings.IndexByte(r.data[from:], '\n'); i >= 0 {
			to = from + i
		}
		r.pos = to + 1
		r.line++
		// encoding/csv drops the \r of a \r\n, and a last line's trailing \r.
		if to > from && r.data[to-1] == '\r' {
			to--
		}
		if to == from {
			continue
		}
		r.from, r.to, r.commas = from, to, r.commas[:0]
		for off := from; ; off++ {
			i := strings.IndexByte(r.data[off:to], ',')
			if i < 0 {
				break
			}
			off += i
			r.commas = append(r.commas, off)
		}
		return len(r.commas) + 1, r.line, nil
	}
	return 0, 0, io.EOF
}

func (r *lineRecords) field(i int) string {
	start, end := r.from, r.to
	if i > 0 {
		start = r.commas[i-1] + 1
	}
	if i < len(r.commas) {
		end = r.commas[i]
	}
	return strings.TrimLeftFunc(r.data[start:end], unicode.IsSpace)
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("cannot read %s: %w", name, err)
}

// parseTimestamp reads s as Unix seconds or one of timeLayouts. The common
// ISO 8601 form is read by parseISOTime without time.Parse, which costs
// several failed layouts (and their error values) per row.
func parseTimestamp(s string) (int64, bool) {
	var ts timestamps
	return ts.parse(s)
}

// timestamps reads a file's timestamps as parseTimestamp does, remembering
// the date of the last ISO 8601 one: consecutive rows mostly share it, and
// its digits, validation and day count are then skipped.
type timestamps struct {
	date string // YYYY-MM-DD of the last ISO timestamp read, valid
	days int64  // its days since 1970-01-01
}

func (ts *timestamps) parse(s string) (int64, bool) {
	if ms, ok := ts.parseISO(s); ok {
		return ms, true
	}
	return parseTimestampLayouts(s)
}

func parseTimestampLayouts(s string) (int64, bool) {
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

// parseISOTime reads YYYY-MM-DD{T| }HH:MM:SS[.f{1,9}][Z|±HH:MM] in Unix
// milliseconds (rounded down, as time.Time.UnixMilli does), UTC without a
// zone. It accepts a subset of what timeLayouts do, with the same result
// (FuzzParseTimestamp checks that), and says false for anything else,
// which parseTimestampLayouts then reads or rejects.
func parseISOTime(s string) (int64, bool) {
	var ts timestamps
	return ts.parseISO(s)
}

// parseISO is parseISOTime, with the date taken from ts when it is the
// last one read.
func (ts *timestamps) parseISO(s string) (int64, bool) {
	if len(s) < len("2006-01-02T15:04:05") || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	days := ts.days
	if s[:10] != ts.date {
		year, ok1 := digits(s[0:4])
		month, ok2 := digits(s[5:7])
		day, ok3 := digits(s[8:10])
		if !(ok1 && ok2 && ok3) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
			return 0, false
		}
		days = daysFromCivil(year, month, day)
		ts.date, ts.days = s[:10], days
	}
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok4 && ok5 && ok6) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := s[19:]
	var ms int64
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return 0, false
		}
		frac, _ := digits(rest[1:min(n, 4)])
		for range 4 - min(n, 4) {
			frac *= 10
		}
		ms, rest = int64(frac), rest[n:]
	}
	var offset int
	switch {
	case rest == "" || rest == "Z":
	case len(rest) == len("+07:00") && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	unix := days*86400 + int64(hour*3600+minute*60+sec-offset)
	return unix*1000 + ms, true
}

// digits reads a string of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to a date of the
// proleptic Gregorian calendar (H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms", days_from_civil), for years 0 to 9999.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := (y+400)/400 - 1 // floor(y/400) for y >= -1
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// parseValue reads a value field: empty, NaN and ±Inf are missing (NaN).
// A plain decimal of at most 19 digits, the usual case, is read by
// parseDecimal; anything else, or a decimal it cannot convert exactly, by
// strconv.ParseFloat.
func parseValue(s string) (float64, bool) {
	if s == "" {
		return math.NaN(), true
	}
	if v, ok := parseDecimal(s); ok {
		return v, true
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

// float64pow10 are the powers of ten that float64 holds exactly.
var float64pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal reads [+-]digits[.digits] (digits on at least one side of
// the point, at most 19 in all) as m/10^k, and says false for anything
// else or when m ≥ 2^53 or k > 22. Then m and 10^k are exact in float64
// and their quotient, one IEEE division, is the correctly rounded value,
// which is what strconv.ParseFloat returns (Clinger's fast path, "How to
// read floating point numbers accurately", PLDI 1990; strconv's
// atof64exact): FuzzParseValue checks that the two agree.
func parseDecimal(s string) (float64, bool) {
	i, neg := 0, false
	if s[0] == '+' || s[0] == '-' {
		neg, i = s[0] == '-', 1
	}
	var m uint64
	nd, frac, point := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if nd == 19 {
				return 0, false
			}
			m = m*10 + uint64(c-'0')
			nd++
			if point {
				frac++
			}
		case c == '.' && !point:
			point = true
		default:
			return 0, false
		}
	}
	if nd == 0 || m >= 1<<53 || frac >= len(float64pow10) {
		return 0, false
	}
	v := float64(m) / float64pow10[frac]
	if neg {
		v = -v
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
