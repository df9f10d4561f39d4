// Package nab scores streaming anomaly detectors on the Numenta Anomaly
// Benchmark (NAB v1.1, github.com/numenta/NAB): it reads the corpus and its
// labelled windows, runs augur's detector over every file online, reads and
// writes results in NAB's layout, and re-implements NAB's scoring rules
// (nab/sweeper.py, nab/optimizer.py) so that published results score exactly
// as in NAB's final_results.json.
package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Window is a labelled anomaly window, both edges inclusive, in Unix
// milliseconds.
type Window struct {
	Start, End int64
}

// File is one data file of the corpus.
type File struct {
	// Name is the path relative to data/, e.g. "realKnownCause/nyc_taxi.csv",
	// the key NAB's label files use.
	Name       string
	Timestamps []int64 // Unix milliseconds, in file order (not always sorted)
	Values     []float64
	Windows    []Window // in label-file order
}

// Category is the folder of the file, e.g. "realKnownCause".
func (f *File) Category() string { return path.Dir(f.Name) }

// Corpus is the set of NAB data files with their windows.
type Corpus struct {
	Files []File // sorted by Name
}

// Rows is the total number of rows in the corpus.
func (c *Corpus) Rows() int {
	n := 0
	for i := range c.Files {
		n += len(c.Files[i].Values)
	}
	return n
}

// Windows is the number of labelled windows in the corpus.
func (c *Corpus) Windows() int {
	n := 0
	for i := range c.Files {
		n += len(c.Files[i].Windows)
	}
	return n
}

// timeLayout is NAB's timestamp format; Go's parser also accepts the
// fractional seconds the label files carry ("...:00.000000").
const timeLayout = "2006-01-02 15:04:05"

func parseTime(s string) (int64, error) {
	t, err := time.Parse(timeLayout, strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

// LoadCorpus reads root/data/**.csv and root/labels/combined_windows.json.
// Every data file must have an entry in the label file and vice versa.
func LoadCorpus(root string) (*Corpus, error) {
	windows, err := loadWindows(filepath.Join(root, "labels", "combined_windows.json"))
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(root, "data")
	c := &Corpus{}
	err = filepath.WalkDir(dataDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".csv") {
			return err
		}
		rel, err := filepath.Rel(dataDir, p)
		if err != nil {
			return err
		}
		f := File{Name: filepath.ToSlash(rel)}
		w, ok := windows[f.Name]
		if !ok {
			return fmt.Errorf("cannot find labels for %s", f.Name)
		}
		delete(windows, f.Name)
		if f.Windows, err = parseWindows(w); err != nil {
			return fmt.Errorf("cannot parse windows of %s: %w", f.Name, err)
		}
		if f.Timestamps, f.Values, err = readDataFile(p); err != nil {
			return err
		}
		c.Files = append(c.Files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot load NAB corpus from %s: %w", root, err)
	}
	if len(c.Files) == 0 {
		return nil, fmt.Errorf("cannot load NAB corpus from %s: no data files", root)
	}
	for name := range windows {
		return nil, fmt.Errorf("cannot load NAB corpus from %s: labels name missing data file %s", root, name)
	}
	sort.Slice(c.Files, func(i, j int) bool { return c.Files[i].Name < c.Files[j].Name })
	return c, nil
}

func loadWindows(p string) (map[string][][2]string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read windows: %w", err)
	}
	var w map[string][][2]string
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", p, err)
	}
	return w, nil
}

func parseWindows(raw [][2]string) ([]Window, error) {
	ws := make([]Window, len(raw))
	for i, r := range raw {
		var err error
		if ws[i].Start, err = parseTime(r[0]); err != nil {
			return nil, err
		}
		if ws[i].End, err = parseTime(r[1]); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// readDataFile reads a NAB data file, `timestamp,value`.
func readDataFile(p string) ([]int64, []float64, error) {
	var ts []int64
	var vs []float64
	err := readCSV(p, []string{"timestamp", "value"}, func(rec []string) error {
		t, err := parseTime(rec[0])
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil {
			return err
		}
		ts = append(ts, t)
		vs = append(vs, v)
		return nil
	})
	return ts, vs, err
}

// readCSV calls row for every data row of the CSV file p with the fields of
// the named columns, in the order given. Other columns are ignored.
func readCSV(p string, columns []string, row func([]string) error) error {
	fh, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w", p, err)
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("cannot read header of %s: %w", p, err)
	}
	idx := make([]int, len(columns))
	for i, name := range columns {
		idx[i] = -1
		for j, h := range header {
			if strings.TrimSpace(h) == name {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return fmt.Errorf("cannot find column %q in %s", name, p)
		}
	}
	fields := make([]string, len(columns))
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", p, err)
		}
		for i, j := range idx {
			fields[i] = rec[j]
		}
		if err := row(fields); err != nil {
			return fmt.Errorf("cannot parse %s line %d: %w", p, line, err)
		}
	}
}

// ResultPath is where NAB keeps a detector's scores for data file name:
// <detector>/<category>/<detector>_<file>.csv under the results folder.
func ResultPath(dir, detector, name string) string {
	cat, file := path.Split(name)
	return filepath.Join(dir, detector, filepath.FromSlash(cat), detector+"_"+file)
}

// ReadResults reads a detector's anomaly_score column for every corpus file
// from a results folder in NAB's layout. Scores are matched to data rows by
// position, as NAB does, so each file must have as many rows as its data file.
func ReadResults(dir, detector string, c *Corpus) ([][]float64, error) {
	out := make([][]float64, len(c.Files))
	for i := range c.Files {
		f := &c.Files[i]
		p := ResultPath(dir, detector, f.Name)
		s := make([]float64, 0, len(f.Values))
		err := readCSV(p, []string{"anomaly_score"}, func(rec []string) error {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64)
			if err != nil {
				return err
			}
			s = append(s, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(s) != len(f.Values) {
			return nil, fmt.Errorf("cannot use %s: %d rows, data file has %d", p, len(s), len(f.Values))
		}
		out[i] = s
	}
	return out, nil
}

// WriteResults writes scores in NAB's results layout, one
// `timestamp,value,anomaly_score` file per data file.
func WriteResults(dir, detector string, c *Corpus, scores [][]float64) error {
	for i := range c.Files {
		f := &c.Files[i]
		p := ResultPath(dir, detector, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("cannot create results folder: %w", err)
		}
		b := make([]byte, 0, 48*len(f.Values)+32)
		b = append(b, "timestamp,value,anomaly_score\n"...)
		for j, t := range f.Timestamps {
			b = time.UnixMilli(t).UTC().AppendFormat(b, timeLayout)
			b = append(b, ',')
			b = strconv.AppendFloat(b, f.Values[j], 'g', -1, 64)
			b = append(b, ',')
			b = strconv.AppendFloat(b, scores[i][j], 'g', -1, 64)
			b = append(b, '\n')
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("cannot write results: %w", err)
		}
	}
	return nil
}

// Profile is one of NAB's application profiles: the weights of a true
// positive, a false negative and a false positive.
type Profile struct {
	Name       string
	TP, FN, FP float64
}

// LoadProfiles reads NAB's config/profiles.json. Profiles are returned in
// NAB's reporting order (standard, reward_low_FP_rate, reward_low_FN_rate),
// then any others by name.
func LoadProfiles(p string) ([]Profile, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read profiles: %w", err)
	}
	var raw map[string]struct {
		CostMatrix struct {
			TP float64 `json:"tpWeight"`
			FN float64 `json:"fnWeight"`
			FP float64 `json:"fpWeight"`
		}
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", p, err)
	}
	order := map[string]int{"standard": 0, "reward_low_FP_rate": 1, "reward_low_FN_rate": 2}
	ps := make([]Profile, 0, len(raw))
	for name, r := range raw {
		ps = append(ps, Profile{Name: name, TP: r.CostMatrix.TP, FN: r.CostMatrix.FN, FP: r.CostMatrix.FP})
	}
	sort.Slice(ps, func(i, j int) bool {
		oi, iok := order[ps[i].Name]
		oj, jok := order[ps[j].Name]
		if iok != jok {
			return iok
		}
		if iok {
			return oi < oj
		}
		return ps[i].Name < ps[j].Name
	})
	return ps, nil
}

// LoadThresholds reads NAB's config/thresholds.json: detector → profile →
// threshold.
func LoadThresholds(p string) (map[string]map[string]float64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read thresholds: %w", err)
	}
	var raw map[string]map[string]struct {
		Threshold float64 `json:"threshold"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", p, err)
	}
	out := make(map[string]map[string]float64, len(raw))
	for det, profs := range raw {
		out[det] = make(map[string]float64, len(profs))
		for prof, v := range profs {
			out[det][prof] = v.Threshold
		}
	}
	return out, nil
}
