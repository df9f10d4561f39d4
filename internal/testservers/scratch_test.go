package testservers

import (
	"os"
	"testing"
)

func TestScratchWrite(t *testing.T) {
	f := DefaultFleet()
	f.Instances = 30
	out, _ := os.Create("/tmp/bench.om")
	if err := WriteOpenMetrics(out, f.Series()); err != nil { t.Fatal(err) }
	out.Close()
}
