package kernelspec

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Logo draws the kernel's logo, size by size pixels: a light bolt on a
// Go-blue disc, antialiased by 4x4 supersampling.
func Logo(size int) ([]byte, error) {
	if size < 8 || size > 1024 {
		return nil, fmt.Errorf("kernelspec: logo size %d out of range [8, 1024]", size)
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	blue := color.NRGBA{0, 173, 216, 255} // Go's gopher blue
	bolt := color.NRGBA{255, 214, 10, 255}
	// The bolt, in unit coordinates (0..1).
	poly := [][2]float64{{0.58, 0.12}, {0.28, 0.55}, {0.48, 0.55}, {0.40, 0.88}, {0.72, 0.42}, {0.52, 0.42}, {0.62, 0.12}}
	const ss = 4
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var inDisc, inBolt int
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					u := (float64(x) + (float64(sx)+0.5)/ss) / float64(size)
					v := (float64(y) + (float64(sy)+0.5)/ss) / float64(size)
					if math.Hypot(u-0.5, v-0.5) <= 0.48 {
						inDisc++
						if inPolygon(poly, u, v) {
							inBolt++
						}
					}
				}
			}
			if inDisc == 0 {
				continue
			}
			t := float64(inBolt) / float64(inDisc)
			c := color.NRGBA{
				R: uint8(float64(blue.R)*(1-t) + float64(bolt.R)*t),
				G: uint8(float64(blue.G)*(1-t) + float64(bolt.G)*t),
				B: uint8(float64(blue.B)*(1-t) + float64(bolt.B)*t),
				A: uint8(255 * inDisc / (ss * ss)),
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("kernelspec: logo: %w", err)
	}
	return buf.Bytes(), nil
}

// inPolygon is the even-odd rule.
func inPolygon(p [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		xi, yi, xj, yj := p[i][0], p[i][1], p[j][0], p[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
