package nvml

import "unsafe"

func unsafeBytes(b *byte, n uint32) []byte { return unsafe.Slice(b, n) }
