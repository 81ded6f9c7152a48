package console

import (
	"fmt"
)

// chart is a bar chart drawn as inline SVG (no script, no style
// attribute, so the CSP holds), with a text summary for its accessible
// name and its numbers in a table beside it.
type chart struct {
	ID      string // unique on the page; prefixes the SVG's element ids
	Title   string
	Summary string
	Unit    string // what a bar counts, such as "tokens"
	Bars    []bar
	// Ticks label the time axis, and MaxLabel the top of the value axis.
	Ticks    []tick
	MaxLabel string
	Width    int
	Height   int
	BaseY    float64 // the y of the time axis
}

type bar struct {
	X, Y, W, H float64
	Label      string // the bucket, such as "14:00" or "Dec 3"
	Count      int64
}

type tick struct {
	X     float64
	Label string
}

// point is one bucket of a chart.
type point struct {
	Label string // the bucket as the table and bar tooltip show it
	Tick  string // the time axis label, or "" for none at this bucket
	Count int64
}

// The chart's geometry in SVG user units.
const (
	chartWidth  = 480
	chartHeight = 150
	chartLeft   = 34
	chartRight  = 6
	chartTop    = 8
	chartBottom = 20
)

// newChart lays out points as bars from left (oldest) to right.
func newChart(id, title, unit string, points []point) chart {
	c := chart{ID: id, Title: title, Unit: unit, Width: chartWidth, Height: chartHeight, BaseY: chartHeight - chartBottom}
	var max, total int64
	peak := -1
	for i, p := range points {
		total += p.Count
		if p.Count > max {
			max, peak = p.Count, i
		}
	}
	scale := max
	if scale == 0 {
		scale = 1
	}
	c.MaxLabel = fmt.Sprint(max)
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	slot := plotW / float64(max1(len(points)))
	for i, p := range points {
		h := float64(p.Count) / float64(scale) * plotH
		x := chartLeft + float64(i)*slot
		c.Bars = append(c.Bars, bar{X: round1(x + slot*0.1), Y: round1(c.BaseY - h), W: round1(slot * 0.8), H: round1(h), Label: p.Label, Count: p.Count})
		if p.Tick != "" {
			c.Ticks = append(c.Ticks, tick{X: round1(x + slot/2), Label: p.Tick})
		}
	}
	c.Summary = fmt.Sprintf("%s: %d %s in all", title, total, unit)
	if peak >= 0 {
		c.Summary += fmt.Sprintf("; the most, %d, at %s", max, points[peak].Label)
	}
	c.Summary += "."
	return c
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
