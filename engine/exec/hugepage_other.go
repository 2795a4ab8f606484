//go:build !linux

package exec

// adviseHugePages is a no-op where madvise(MADV_HUGEPAGE) does not exist.
func adviseHugePages([]byte) {}
