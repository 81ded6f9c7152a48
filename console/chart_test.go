package console

import (
	"strings"
	"testing"
	"time"
)

func TestNewChart(t *testing.T) {
	tests := []struct {
		name        string
		points      []point
		wantHeights []float64
		wantSummary string
		wantTicks   int
	}{
		{
			name:        "peak fills the plot",
			points:      []point{{Label: "13:00", Tick: "13:00", Count: 0}, {Label: "14:00", Count: 12}, {Label: "15:00", Count: 6}},
			wantHeights: []float64{0, 122, 61},
			wantSummary: "Tokens per hour: 18 tokens in all; the most, 12, at 14:00.",
			wantTicks:   1,
		},
		{
			name:        "all zero",
			points:      []point{{Label: "Dec 1", Count: 0}, {Label: "Dec 2", Count: 0}},
			wantHeights: []float64{0, 0},
			wantSummary: "Tokens per hour: 0 tokens in all.",
		},
		{
			name:        "no buckets",
			wantSummary: "Tokens per hour: 0 tokens in all.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChart("c", "Tokens per hour", "tokens", tt.points)
			if len(c.Bars) != len(tt.wantHeights) {
				t.Fatalf("%d bars; want %d", len(c.Bars), len(tt.wantHeights))
			}
			for i, b := range c.Bars {
				if b.H != tt.wantHeights[i] || b.Y+b.H != c.BaseY {
					t.Errorf("bar %d: height %v at y %v; want %v standing on %v", i, b.H, b.Y, tt.wantHeights[i], c.BaseY)
				}
				if b.X < chartLeft || b.X+b.W > chartWidth-chartRight {
					t.Errorf("bar %d: x %v width %v outside the plot", i, b.X, b.W)
				}
			}
			if c.Summary != tt.wantSummary {
				t.Errorf("Summary = %q; want %q", c.Summary, tt.wantSummary)
			}
			if len(c.Ticks) != tt.wantTicks {
				t.Errorf("%d ticks; want %d", len(c.Ticks), tt.wantTicks)
			}
		})
	}
}

func TestChartTemplate(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c := newChart("h24", "Tokens per hour <last 24 h>", "tokens", []point{{Label: "14:00", Tick: "14:00", Count: 3}})
	if err := pages["error.html"].ExecuteTemplate(&b, "chart", c); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`role="img"`, `aria-labelledby="h24-title"`, `<desc id="h24-desc">Tokens per hour &lt;last 24 h&gt;: 3 tokens in all`,
		`<rect class="bar" x="78" y="8" width="352" height="122"><title>14:00: 3</title></rect>`, `<td class="num">3</td>`} {
		if !strings.Contains(out, want) {
			t.Errorf("chart lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "style=") {
		t.Errorf("chart has a style attribute, which the CSP blocks:\n%s", out)
	}
}

func TestAgeAndDuration(t *testing.T) {
	for _, tt := range []struct {
		d        time.Duration
		age, dur string
	}{
		{30 * time.Second, "under a minute", "30s"},
		{time.Minute, "1 minute", "1m"},
		{90 * time.Minute, "1 hour", "1h30m"},
		{24 * time.Hour, "24 hours", "24h"},
		{72 * time.Hour, "3 days", "72h"},
	} {
		if got := age(tt.d); got != tt.age {
			t.Errorf("age(%v) = %q; want %q", tt.d, got, tt.age)
		}
		if got := duration(tt.d); got != tt.dur {
			t.Errorf("duration(%v) = %q; want %q", tt.d, got, tt.dur)
		}
	}
}
