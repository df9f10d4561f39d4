package main

import (
	"fmt"
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/augur-sre/augur/engine"
)

// plotReport draws the reliability diagram and, per incident, the entity's
// failure probability in the hours before it, into one PNG.
func plotReport(path string, r engine.Report, hist []engine.EntityHistory) error {
	plots := []*plot.Plot{reliabilityPlot(r)}
	byEntity := map[string][]engine.ProbabilityPoint{}
	for _, h := range hist {
		byEntity[h.Entity] = h.Points
	}
	for _, l := range r.Leads {
		p, err := timelinePlot(l, byEntity[l.Incident.Entity], r.Threshold)
		if err != nil {
			return err
		}
		plots = append(plots, p)
	}
	const cols = 3
	rows := (len(plots) + cols - 1) / cols
	img := vgimg.New(vg.Length(cols)*4*vg.Inch, vg.Length(rows)*3*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range cols {
			if k := i*cols + j; k < len(plots) {
				grid[i][j] = plots[k]
			}
		}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func reliabilityPlot(r engine.Report) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Reliability (Brier %.4f)", r.Brier)
	p.X.Label.Text = "predicted probability"
	p.Y.Label.Text = "observed frequency"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	diag.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	diag.Color = color.Gray{Y: 128}
	var pts plotter.XYs
	for _, b := range r.Reliability {
		if b.Count > 0 {
			pts = append(pts, plotter.XY{X: b.MeanPredicted, Y: b.Observed})
		}
	}
	p.Add(diag)
	if len(pts) > 0 {
		line, scatter, _ := plotter.NewLinePoints(pts)
		line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
		scatter.Color = line.Color
		p.Add(line, scatter)
	}
	return p
}

// timelinePlot shows an entity's failure probability from six hours before
// an incident to one hour after its start, with the threshold.
func timelinePlot(l engine.IncidentLead, pts []engine.ProbabilityPoint, threshold float64) (*plot.Plot, error) {
	start := l.Incident.Start
	p := plot.New()
	lead := "missed"
	if l.Detected {
		lead = "lead " + l.Lead.String()
	}
	p.Title.Text = fmt.Sprintf("%s %s (%s)", l.Incident.Entity, l.Incident.Name, lead)
	p.X.Label.Text = "hours from incident start"
	p.Y.Label.Text = "P(failure within horizon)"
	p.Y.Min, p.Y.Max = 0, 1
	var xy plotter.XYs
	from, to := start.Add(-6*time.Hour).UnixMilli(), start.Add(time.Hour).UnixMilli()
	for _, pt := range pts {
		if pt.T >= from && pt.T <= to {
			xy = append(xy, plotter.XY{X: float64(pt.T-start.UnixMilli()) / float64(time.Hour.Milliseconds()), Y: pt.P})
		}
	}
	if len(xy) == 0 {
		return p, nil
	}
	line, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	line.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	th, _ := plotter.NewLine(plotter.XYs{{X: -6, Y: threshold}, {X: 1, Y: threshold}})
	th.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	th.Color = color.Gray{Y: 100}
	at, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 0, Y: 1}})
	at.Color = color.Black
	p.Add(line, th, at)
	return p, nil
}
