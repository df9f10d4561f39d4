package nab

import (
	"fmt"
	"math"
	"sort"
)

// ProbationLength is the number of leading rows of an n-row file that NAB
// does not score: min(floor(0.15·n), 0.15·5000) (nab/sweeper.py,
// Sweeper._getProbationaryLength).
func ProbationLength(n int) int {
	return min(int(math.Floor(0.15*float64(n))), 750)
}

// ScaledSigmoid is NAB's reward for a detection at relative position x
// (nab/sweeper.py): 2/(1+e^(5x)) − 1, and −1 from x ≥ 3 on. x = −1 is a
// window's left edge (0.98661), 0 its right edge, x > 0 lies after it.
func ScaledSigmoid(x float64) float64 {
	if x >= 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// maxTP is the reward of a detection on a window's left edge; NAB divides
// in-window rewards by it so that the earliest detection earns tpWeight.
var maxTP = ScaledSigmoid(-1)

// rowLabel is what NAB's sweeper derives for one scorable row from the
// timestamps and windows alone: the window the row lies in (or −1) and the
// unweighted scaled-sigmoid reward of a detection there.
type rowLabel struct {
	window int32
	sig    float64
}

// Scorer scores detector outputs on a corpus with NAB v1.1's rules. It is
// immutable after NewScorer and safe for concurrent use.
type Scorer struct {
	corpus     *Corpus
	rows       [][]rowLabel // per file, the rows after the probation period
	probation  []int        // per file
	windowCat  []int        // category index of each scorable window
	categories []string
	fileCat    []int
	windows    int // labelled windows, for the perfect score
}

// NewScorer derives NAB's per-row labels for every file of c. It fails when
// a window edge is not a timestamp of its file, where NAB would silently
// drop the window and every later one of the file.
func NewScorer(c *Corpus) (*Scorer, error) {
	s := &Scorer{corpus: c, windows: c.Windows()}
	catIdx := map[string]int{}
	for i := range c.Files {
		f := &c.Files[i]
		cat, ok := catIdx[f.Category()]
		if !ok {
			cat = len(s.categories)
			catIdx[f.Category()] = cat
			s.categories = append(s.categories, f.Category())
		}
		rows, prob, err := labelRows(f, int32(len(s.windowCat)))
		if err != nil {
			return nil, fmt.Errorf("cannot label %s: %w", f.Name, err)
		}
		scorable := map[int32]bool{}
		for _, r := range rows {
			if r.window >= 0 {
				scorable[r.window] = true
			}
		}
		for range scorable {
			s.windowCat = append(s.windowCat, cat)
		}
		s.rows = append(s.rows, rows)
		s.probation = append(s.probation, prob)
		s.fileCat = append(s.fileCat, cat)
	}
	return s, nil
}

// labelRows replays nab/sweeper.py's calcSweepScore for one file. Window
// edges are located by the first row carrying the edge's timestamp; rows
// are otherwise taken in file order. A detection after a window is weighted
// by its distance from the preceding window's right edge, one before any
// window costs the full false-positive weight. Windows are numbered from
// base in the order their scorable rows appear.
func labelRows(f *File, base int32) ([]rowLabel, int, error) {
	first := make(map[int64]int, len(f.Timestamps))
	for i := len(f.Timestamps) - 1; i >= 0; i-- {
		first[f.Timestamps[i]] = i
	}
	for _, w := range f.Windows {
		_, okS := first[w.Start]
		_, okE := first[w.End]
		if !okS || !okE {
			return nil, 0, fmt.Errorf("window edge of [%d, %d] is not a row timestamp", w.Start, w.End)
		}
	}
	prob := ProbationLength(len(f.Timestamps))
	rows := make([]rowLabel, 0, len(f.Timestamps)-prob)
	next := 0
	in := false
	var cur Window
	var right int
	var width float64
	prevRight, prevWidth := -1, 0.0
	id := base - 1
	lastID := -1 // window index whose id was last assigned
	for i, t := range f.Timestamps {
		if next < len(f.Windows) && t == f.Windows[next].Start {
			cur = f.Windows[next]
			next++
			in = true
			right = first[cur.End]
			width = float64(right - first[cur.Start] + 1)
		}
		var r rowLabel
		if in {
			r.window = -2 // resolved below once the row is known scorable
			r.sig = ScaledSigmoid(-float64(right-i+1) / width)
		} else {
			r.window = -1
			pos := 3.0
			if prevRight >= 0 && prevWidth > 1 {
				pos = math.Abs(float64(prevRight-i)) / (prevWidth - 1)
			}
			r.sig = ScaledSigmoid(pos)
		}
		if i >= prob {
			if r.window == -2 {
				if lastID != next {
					id++
					lastID = next
				}
				r.window = id
			}
			rows = append(rows, r)
		}
		if in && t == cur.End {
			in = false
			prevRight, prevWidth = i, width
		}
	}
	return rows, prob, nil
}

// Result is a detector's NAB score for one profile at one threshold.
type Result struct {
	Profile   Profile
	Threshold float64
	// Raw is the sum of the weighted rewards; Null and Perfect are the raw
	// scores of a detector that never fires and of one that fires exactly on
	// every window's left edge. Score = 100·(Raw−Null)/(Perfect−Null).
	Raw, Null, Perfect, Score float64
	// TP and FN count windows, FP counts scorable rows outside windows
	// that were detected.
	TP, FN, FP int
	Categories []CategoryResult
}

// CategoryResult is the share of a Result earned on one category of files,
// at the corpus-wide threshold.
type CategoryResult struct {
	Name                      string
	Windows                   int
	Raw, Null, Perfect, Score float64 // Score is NaN without windows
	TP, FN, FP                int
}

func normalise(raw, null, perfect float64) float64 {
	if perfect == null {
		return math.NaN()
	}
	return 100 * (raw - null) / (perfect - null)
}

func (s *Scorer) checkScores(scores [][]float64) error {
	if len(scores) != len(s.rows) {
		return fmt.Errorf("cannot score: %d score series for %d files", len(scores), len(s.rows))
	}
	for i, f := range s.corpus.Files {
		if len(scores[i]) != len(f.Timestamps) {
			return fmt.Errorf("cannot score %s: %d scores for %d rows", f.Name, len(scores[i]), len(f.Timestamps))
		}
		for j, v := range scores[i] {
			if math.IsNaN(v) {
				return fmt.Errorf("cannot score %s: row %d has no score", f.Name, j+1)
			}
		}
	}
	return nil
}

// Score scores the detector outputs (one slice per corpus file, one score
// per row) for profile p, counting a row as a detection when its score is
// at least threshold.
func (s *Scorer) Score(scores [][]float64, p Profile, threshold float64) (Result, error) {
	if err := s.checkScores(scores); err != nil {
		return Result{}, err
	}
	cats := make([]CategoryResult, len(s.categories))
	for i, name := range s.categories {
		cats[i].Name = name
	}
	for _, c := range s.windowCat {
		cats[c].Windows++
	}
	best := make([]float64, len(s.windowCat))
	for i := range best {
		best[i] = math.NaN()
	}
	for fi, rows := range s.rows {
		sc := scores[fi][s.probation[fi]:]
		cat := &cats[s.fileCat[fi]]
		for j, r := range rows {
			if !(sc[j] >= threshold) {
				continue
			}
			if r.window < 0 {
				cat.Raw += r.sig * p.FP
				cat.FP++
			} else if math.IsNaN(best[r.window]) {
				// Rows come in file order, so the first detection is the
				// earliest and earns the window's reward.
				best[r.window] = r.sig * p.TP / maxTP
			}
		}
	}
	res := Result{Profile: p, Threshold: threshold, Categories: cats}
	for w, b := range best {
		cat := &cats[s.windowCat[w]]
		if math.IsNaN(b) {
			cat.Raw -= p.FN
			cat.FN++
		} else {
			cat.Raw += b
			cat.TP++
		}
	}
	for i := range cats {
		c := &cats[i]
		c.Null = -p.FN * float64(c.Windows)
		c.Perfect = p.TP * float64(c.Windows)
		c.Score = normalise(c.Raw, c.Null, c.Perfect)
		res.Raw += c.Raw
		res.TP += c.TP
		res.FN += c.FN
		res.FP += c.FP
	}
	res.Null = -p.FN * float64(len(s.windowCat))
	res.Perfect = p.TP * float64(s.windows)
	res.Score = normalise(res.Raw, res.Null, res.Perfect)
	return res, nil
}

// point is one scorable row in the corpus-wide threshold sweep.
type point struct {
	score float64
	label rowLabel
}

// Optimize finds the threshold that maximises the corpus-wide raw score for
// profile p and scores at it. Like NAB's sweeper (calcScoreByThreshold),
// it sorts every scorable row by descending score and lowers the threshold
// through each distinct score, starting from one above every score (never
// fire); ties go to the highest threshold.
func (s *Scorer) Optimize(scores [][]float64, p Profile) (Result, error) {
	if err := s.checkScores(scores); err != nil {
		return Result{}, err
	}
	var pts []point
	for fi, rows := range s.rows {
		sc := scores[fi][s.probation[fi]:]
		for j, r := range rows {
			pts = append(pts, point{sc[j], r})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].score > pts[j].score })

	best := make([]float64, len(s.windowCat))
	for i := range best {
		best[i] = -p.FN
	}
	total := -p.FN * float64(len(best))
	threshold := 1.1
	if len(pts) > 0 && pts[0].score >= threshold {
		threshold = math.Nextafter(pts[0].score, math.Inf(1))
	}
	bestThr, bestTotal := threshold, total
	for _, pt := range pts {
		if pt.score != threshold {
			if total > bestTotal {
				bestThr, bestTotal = threshold, total
			}
			threshold = pt.score
		}
		if pt.label.window < 0 {
			total += pt.label.sig * p.FP
		} else if w := pt.label.sig * p.TP / maxTP; w > best[pt.label.window] {
			total += w - best[pt.label.window]
			best[pt.label.window] = w
		}
	}
	if total > bestTotal {
		bestThr = threshold
	}
	return s.Score(scores, p, bestThr)
}
