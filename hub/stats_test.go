package hub

import "testing"

// A sample lands in the first bucket whose bound holds it; past the last
// bound, in the overflow bucket.
func TestQueueSamplesBuckets(t *testing.T) {
	var q queueSamples
	for _, frames := range []int{0, 0, 1, 2, 4, 5, 512, 513, 10000} {
		q.add(frames)
	}
	want := [len(SendQueueBuckets) + 1]uint64{2, 1, 2, 1, 0, 0, 0, 0, 1, 2}
	if q.Counts != want || q.Sum != 0+0+1+2+4+5+512+513+10000 {
		t.Errorf("counts %v sum %d, want %v and %d", q.Counts, q.Sum, want, 11037)
	}
	var c counters
	c.addQueueSamples(&q)
	c.addQueueSamples(&q)
	if got := c.queueDepth[0].Load(); got != 4 {
		t.Errorf("two sweeps of two empty queues: %d in bucket 0", got)
	}
	if got := c.queueFrames.Load(); got != 2*11037 {
		t.Errorf("sum %d, want %d", got, 2*11037)
	}
}
