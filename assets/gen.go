//go:build ignore

// gen makes the app icon and the demo catalog's media: pictures drawn with
// Go's image package and short tones and a jingle synthesised by sox.
// Run from the repository root: go run assets/gen.go
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"os/exec"
)

func main() {
	must(writePNG("assets/icon.png", icon(256)))
	must(writePNG("assets/demo/harbour-at-dusk.png", dusk(640, 400)))
	must(writePNG("assets/demo/grid-study.png", grid(480, 480)))
	for _, c := range [][]string{
		// A plain 440 Hz tone with soft edges: the simplest thing to test an output with.
		{"-n", "-r", "22050", "-c", "1", "assets/demo/a440.ogg", "synth", "4", "sine", "440", "fade", "0.2", "4", "0.5", "vol", "0.6"},
		// A rising C-major arpeggio: the Kith jingle.
		{"-n", "-r", "22050", "-c", "1", "assets/demo/jingle.ogg", "synth", "0.25", "pluck", "C4", "synth", "0.25", "pluck", "E4", ":",
			"synth", "0.25", "pluck", "G4", ":", "synth", "0.75", "pluck", "C5", "fade", "0", "0.75", "0.5"},
		// A low two-tone hum, as WAV so every decoder path has a fixture.
		{"-n", "-r", "8000", "-c", "1", "-b", "16", "assets/demo/low-hum.wav", "synth", "3", "sine", "110", "sine", "165", "remix", "1,2", "fade", "0.1", "3", "0.3", "vol", "0.5"},
		// Evening bells: a slow chord with a long decay.
		{"-n", "-r", "22050", "-c", "1", "assets/demo/evening-bells.ogg", "synth", "6", "pluck", "E3", "pluck", "B3", "pluck", "G#4", "remix", "-", "fade", "0", "6", "4", "vol", "0.8"},
	} {
		cmd := exec.Command("sox", c...)
		cmd.Stderr = os.Stderr
		must(cmd.Run())
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return f.Close()
}

// icon: three connected nodes on a rounded teal square — a small network.
func icon(n int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	r := float64(n) * 0.18
	nodes := [][2]float64{{0.30, 0.32}, {0.72, 0.40}, {0.42, 0.74}}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			fx, fy := float64(x)/float64(n), float64(y)/float64(n)
			if !inRounded(fx, fy, 0.04, 0.18) {
				continue
			}
			c := color.NRGBA{0x13, 0x7a, 0x7f, 0xff}
			for i := range nodes {
				a, b := nodes[i], nodes[(i+1)%len(nodes)]
				if segDist(fx, fy, a, b) < 0.025 {
					c = color.NRGBA{0xe8, 0xf6, 0xf3, 0xff}
				}
			}
			for i, p := range nodes {
				d := math.Hypot(fx-p[0], fy-p[1]) * float64(n)
				if d < r*0.55 {
					c = color.NRGBA{0xff, 0xb3, 0x47, 0xff}
					if i == 0 {
						c = color.NRGBA{0xff, 0xff, 0xff, 0xff}
					}
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func inRounded(x, y, m, rad float64) bool {
	lo, hi := m+rad, 1-m-rad
	cx, cy := math.Max(lo, math.Min(hi, x)), math.Max(lo, math.Min(hi, y))
	return x >= m && x <= 1-m && y >= m && y <= 1-m && math.Hypot(x-cx, y-cy) <= rad
}

func segDist(x, y float64, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := ((x-a[0])*dx + (y-a[1])*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-(a[0]+t*dx), y-(a[1]+t*dy))
}

// dusk: a sky gradient, a low sun and a dark sea with ripples.
func dusk(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	horizon := int(float64(h) * 0.62)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c color.NRGBA
			if y < horizon {
				t := float64(y) / float64(horizon)
				c = lerp(color.NRGBA{0x2b, 0x1b, 0x4f, 0xff}, color.NRGBA{0xf7, 0x8a, 0x4a, 0xff}, t)
				if d := math.Hypot(float64(x-w*2/3), float64(y-horizon+10)); d < 46 {
					c = color.NRGBA{0xff, 0xd8, 0x7a, 0xff}
				}
			} else {
				t := float64(y-horizon) / float64(h-horizon)
				c = lerp(color.NRGBA{0x3a, 0x2a, 0x55, 0xff}, color.NRGBA{0x0c, 0x10, 0x22, 0xff}, t)
				if math.Sin(float64(x)/9+float64(y)*1.7) > 0.93 && x > w/2 && x < w*5/6 {
					c = color.NRGBA{0xf0, 0xb0, 0x60, 0xff}
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// grid: coloured squares in a slowly shifting hue.
func grid(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	cell := 40
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			cx, cy := x/cell, y/cell
			c := color.NRGBA{0xf4, 0xf1, 0xea, 0xff}
			if x%cell > 3 && y%cell > 3 {
				hue := float64(cx+cy) / float64(w/cell+h/cell)
				c = hsv(hue*300, 0.55, 0.85)
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func lerp(a, b color.NRGBA, t float64) color.NRGBA {
	f := func(x, y uint8) uint8 { return uint8(float64(x) + (float64(y)-float64(x))*t) }
	return color.NRGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 0xff}
}

func hsv(h, s, v float64) color.NRGBA {
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := v - c
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	return color.NRGBA{uint8((r + m) * 255), uint8((g + m) * 255), uint8((b + m) * 255), 0xff}
}
