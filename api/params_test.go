package api

import (
	"net/http"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	f := func(in string, want time.Duration, ok bool) {
		t.Helper()
		got, err := parseDuration("horizon", in, time.Hour)
		if (err == nil) != ok || (ok && got != want) {
			t.Errorf("parseDuration(%q) = %v, %v; want %v ok=%v", in, got, err, want, ok)
		}
		if err != nil && err.status() != http.StatusBadRequest {
			t.Errorf("parseDuration(%q): status %d, want 400", in, err.status())
		}
	}
	f("", time.Hour, true)
	f("90s", 90*time.Second, true)
	f("1h30m", 90*time.Minute, true)
	f("7d", 7*24*time.Hour, true)
	f("300", 5*time.Minute, true)
	f("0.5", 500*time.Millisecond, true)
	f("0", 0, false)
	f("-5m", 0, false)
	f("NaN", 0, false)
	f("1e300", 0, false)
	f("forever", 0, false)
}

func TestParseThreshold(t *testing.T) {
	f := func(in string, want float64, fraction, ok bool) {
		t.Helper()
		got, err := parseThreshold(in)
		if (err == nil) != ok {
			t.Fatalf("parseThreshold(%q) error %v, want ok=%v", in, err, ok)
		}
		if ok && in != "" && (got.Value != want || got.Fraction != fraction) {
			t.Errorf("parseThreshold(%q) = %+v, want %v fraction=%v", in, got, want, fraction)
		}
	}
	f("", 0, false, true)
	f("90", 90, false, true)
	f("90%", 0.9, true, true)
	f("0.8x", 0.8, true, true)
	f("-3", -3, false, true)
	f("0%", 0, true, false)
	f("abc", 0, false, false)
	f("%", 0, false, false)
	f("Inf", 0, false, false)
	// A share over the whole limit is a typo (90x for 90 % or 0.9x).
	f("90x", 0, true, false)
	f("150%", 0, true, false)
	f("1e307x", 0, true, false)
	f("100%", 1, true, true)
}

func TestParseMatch(t *testing.T) {
	m, err := parseMatch(`memory{host=~"cache-.*", role!="db"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !m(map[string]string{"signal": "memory", "host": "cache-1", "role": "cache"}) {
		t.Error("want match on signal name and host regexp")
	}
	if m(map[string]string{"signal": "cpu", "host": "cache-1"}) {
		t.Error("__name__ must match the signal")
	}
	for _, bad := range []string{`memory{`, `rate(x[5m])`, `1+1`, `cpu{host=~"("}`} {
		if _, err := parseMatch(bad); err == nil || err.status() != http.StatusBadRequest {
			t.Errorf("parseMatch(%q): want a 400, got %v", bad, err)
		}
	}
}

// FuzzParams checks that no query parameter can make a parser panic, and
// that every rejection is a 400.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"", "5m", "1e9", "90%", "0.9x", `cpu{host="a"}`, `{__name__=~".+"}`, "\x00", "1h-", "%%", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parseDuration("horizon", s, time.Hour); err != nil && err.status() != http.StatusBadRequest {
			t.Fatalf("duration %q: status %d", s, err.status())
		}
		if _, err := parseThreshold(s); err != nil && err.status() != http.StatusBadRequest {
			t.Fatalf("threshold %q: status %d", s, err.status())
		}
		if m, err := parseMatch(s); err != nil {
			if err.status() != http.StatusBadRequest {
				t.Fatalf("match %q: status %d", s, err.status())
			}
		} else if m != nil {
			m(map[string]string{"signal": "cpu"})
		}
	})
}
