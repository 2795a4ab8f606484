package nvml

import (
	"errors"
	"io"

	"github.com/lightiam/lightos/backends"
)

func init() {
	backends.RegisterProvider(backends.Provider{Name: "nvidia", Order: 10,
		Find: func(o backends.DiscoverOptions) ([]backends.Device, io.Closer, error) {
			l, err := Open(Options{AllowSet: o.AllowSet})
			if err != nil {
				return nil, nil, err
			}
			devs, err := l.Devices()
			if err != nil {
				return nil, l, err
			}
			if len(devs) == 0 {
				return nil, l, errors.New("nvml: driver loaded, no GPU")
			}
			return devs, l, nil
		}})
}
