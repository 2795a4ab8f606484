package sim

import (
	"io"

	"github.com/lightiam/lightos/backends"
)

func init() {
	backends.RegisterProvider(backends.Provider{Name: "sim", Order: 100,
		Find: func(o backends.DiscoverOptions) ([]backends.Device, io.Closer, error) {
			var out []backends.Device
			for _, x := range []struct {
				p Profile
				n int
			}{{H100(), o.SimulatedH100}, {PhotonicNPU(), o.SimulatedPhotonic}} {
				for i := range x.n {
					d, err := New(x.p, Options{ID: i, InletC: o.SimInletC, Cooling: o.SimCooling})
					if err != nil {
						return nil, nil, err
					}
					out = append(out, d)
				}
			}
			return out, nil, nil
		}})
}
