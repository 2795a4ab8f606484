package server

import (
	"slices"
	"testing"
)

func TestBatchBucketSizes(t *testing.T) {
	for _, tc := range []struct {
		max       int
		preferred []int
		want      []int
	}{
		{1, nil, []int{1}},
		{8, nil, []int{1, 2, 4, 8}},
		{12, []int{6}, []int{1, 2, 4, 6, 8, 12}},
		{64, []int{16, 48, 100}, []int{1, 2, 4, 8, 16, 32, 48, 64}},
	} {
		got := batchBuckets(tc.max, tc.preferred)
		if !slices.Equal(got, tc.want) {
			t.Errorf("batchBuckets(%d, %v) = %v, want %v", tc.max, tc.preferred, got, tc.want)
		}
		b := &batcher{buckets: got}
		for n := 1; n <= tc.max; n++ {
			s := b.bucket(n)
			if s < n || !slices.Contains(got, s) {
				t.Errorf("max %d: bucket(%d) = %d", tc.max, n, s)
			}
		}
	}
}
