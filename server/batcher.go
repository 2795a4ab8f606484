package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/lightiam/lightos/engine/tensor"
)

// batcher combines concurrent requests to one model into batched runs. A batch starts
// as soon as an instance of the model is free; while all instances are busy, arriving
// requests queue and run together next (adaptive batching: no added latency at low
// load, large batches under high load). With MaxQueueDelay set, a batch instead waits
// up to that long for a preferred size (or the max batch size). Requests whose
// non-batch dimensions differ from the batch being formed start the next batch.
type batcher struct {
	model     *Model
	sched     Scheduler
	metrics   *metrics
	maxBatch  int
	preferred []int
	delay     time.Duration
	// buckets, when set, are the batch sizes batches are padded up to (ascending,
	// ending at maxBatch); see Options.BatchBuckets.
	buckets []int

	queue chan *pending
	done  chan struct{}
	wg    sync.WaitGroup
}

type pending struct {
	ctx    context.Context
	feeds  map[string]*tensor.Tensor
	batch  int
	key    string
	queued time.Time
	reply  chan batchReply
}

type batchReply struct {
	out       map[string]*tensor.Tensor
	queueTime time.Duration
	err       error
}

func newBatcher(m *Model, c Config, sched Scheduler, metrics *metrics, pad bool) *batcher {
	b := &batcher{model: m, sched: sched, metrics: metrics, maxBatch: c.MaxBatchSize,
		preferred: append([]int(nil), c.DynamicBatching.PreferredBatchSizes...),
		delay:     time.Duration(c.DynamicBatching.MaxQueueDelayMicroseconds) * time.Microsecond,
		queue:     make(chan *pending, 1024), done: make(chan struct{})}
	sort.Ints(b.preferred)
	if pad {
		b.buckets = batchBuckets(b.maxBatch, b.preferred)
	}
	b.wg.Add(1)
	go b.loop()
	return b
}

// batchBuckets returns the padded batch sizes: the powers of two below maxBatch, the
// preferred sizes up to it, and maxBatch itself, ascending and without repeats.
func batchBuckets(maxBatch int, preferred []int) []int {
	set := map[int]bool{maxBatch: true}
	for n := 1; n < maxBatch; n *= 2 {
		set[n] = true
	}
	for _, p := range preferred {
		if p > 0 && p <= maxBatch {
			set[p] = true
		}
	}
	out := make([]int, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// bucket returns the batch size a batch of n rows runs at: n without buckets, else the
// smallest bucket of at least n.
func (b *batcher) bucket(n int) int {
	for _, s := range b.buckets {
		if s >= n {
			return s
		}
	}
	return n
}

// warm compiles the model's plan for every bucket size, so that no request waits for
// a compilation. Models with an unknown non-batch input dimension are left to compile
// on first use.
func (b *batcher) warm() error {
	for _, in := range b.model.Inputs {
		if !in.HasShape || len(in.Shape) == 0 {
			return nil
		}
		for _, d := range in.Shape[1:] {
			if d < 0 {
				return nil
			}
		}
	}
	for _, n := range b.buckets {
		shapes := map[string][]int{}
		for _, in := range b.model.Inputs {
			shape := []int{n}
			for _, d := range in.Shape[1:] {
				shape = append(shape, int(d))
			}
			shapes[in.Name] = shape
		}
		if _, err := b.model.session.Plan(shapes); err != nil {
			return fmt.Errorf("compiling the plan for batch %d: %w", n, err)
		}
	}
	return nil
}

// shapeKey is the request's input signature without the batch dimension.
func shapeKey(feeds map[string]*tensor.Tensor, inputs []TensorMeta) string {
	key := ""
	for _, in := range inputs {
		t := feeds[in.Name]
		key += fmt.Sprint(in.Name, t.DType(), t.Shape()[1:], ";")
	}
	return key
}

func (b *batcher) submit(ctx context.Context, feeds map[string]*tensor.Tensor) (map[string]*tensor.Tensor, time.Duration, error) {
	for _, in := range b.model.Inputs {
		if feeds[in.Name].Rank() == 0 {
			return nil, 0, errorf(codes.InvalidArgument, "model %q batches on the first dimension, but input %q is a scalar", b.model.Name, in.Name)
		}
	}
	p := &pending{ctx: ctx, feeds: feeds, batch: batchOf(feeds), key: shapeKey(feeds, b.model.Inputs), queued: time.Now(), reply: make(chan batchReply, 1)}
	select {
	case b.queue <- p:
	case <-b.done:
		return nil, 0, errorf(codes.Unavailable, "model %q is unloading", b.model.Name)
	case <-ctx.Done():
		return nil, 0, errorf(codes.Canceled, "model %q: %v", b.model.Name, ctx.Err())
	}
	select {
	case r := <-p.reply:
		return r.out, r.queueTime, r.err
	case <-ctx.Done():
		return nil, 0, errorf(codes.Canceled, "model %q: %v", b.model.Name, ctx.Err())
	}
}

// stop runs what is queued and ends the loop.
func (b *batcher) stop() {
	close(b.done)
	b.wg.Wait()
}

func (b *batcher) target(n int) bool {
	if n >= b.maxBatch {
		return true
	}
	for _, p := range b.preferred {
		if n == p {
			return true
		}
	}
	return false
}

func (b *batcher) loop() {
	defer b.wg.Done()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	var carry *pending
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.done:
				b.drainAll(&inflight)
				return
			}
		}
		// Wait for a free instance: while all are busy, requests pile up in the
		// queue and join this batch below.
		select {
		case b.model.slots <- struct{}{}:
		case <-b.done:
			b.model.slots <- struct{}{}
		}
		batch, size := []*pending{first}, first.batch
		var deadline <-chan time.Time
		var timer *time.Timer
		if b.delay > 0 {
			timer = time.NewTimer(time.Until(first.queued.Add(b.delay)))
			deadline = timer.C
		}
	collect:
		for !b.target(size) {
			var p *pending
			if deadline == nil { // adaptive: take what is queued now, never wait
				select {
				case p = <-b.queue:
				default:
					break collect
				}
			} else {
				select {
				case p = <-b.queue:
				case <-deadline:
					break collect
				case <-b.done:
					break collect
				}
			}
			if p.key != first.key || size+p.batch > b.maxBatch {
				carry = p
				break collect
			}
			batch = append(batch, p)
			size += p.batch
		}
		if timer != nil {
			timer.Stop()
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-b.model.slots }()
			b.runBatch(batch)
		}()
	}
}

// drainAll runs what is still queued at shutdown, one request at a time.
func (b *batcher) drainAll(inflight *sync.WaitGroup) {
	for {
		select {
		case p := <-b.queue:
			b.model.slots <- struct{}{}
			b.runBatch([]*pending{p})
			<-b.model.slots
		default:
			return
		}
	}
}

// runBatch concatenates the requests along the first dimension, runs once, and
// splits the outputs back.
func (b *batcher) runBatch(batch []*pending) {
	start := time.Now()
	live := batch[:0]
	for _, p := range batch {
		if p.ctx.Err() == nil {
			live = append(live, p)
		}
	}
	batch = live
	if len(batch) == 0 {
		return
	}
	total := 0
	for _, p := range batch {
		total += p.batch
	}
	if b.metrics != nil {
		b.metrics.batchSize.WithLabelValues(b.model.Name).Observe(float64(total))
	}
	// With buckets, zero rows pad the batch to its bucket; their outputs are dropped.
	rows := b.bucket(total)
	feeds := batch[0].feeds
	if len(batch) > 1 || rows > total {
		feeds = map[string]*tensor.Tensor{}
		for _, in := range b.model.Inputs {
			parts := make([]*tensor.Tensor, len(batch))
			for i, p := range batch {
				parts[i] = p.feeds[in.Name]
			}
			feeds[in.Name] = concatFirst(parts, rows)
		}
	}
	out, err := b.model.runSlotHeld(context.Background(), b.sched, feeds)
	offset := 0
	for _, p := range batch {
		r := batchReply{err: err, queueTime: start.Sub(p.queued)}
		if err == nil {
			if len(batch) == 1 && rows == total {
				r.out = out
			} else {
				r.out, r.err = sliceFirst(out, offset, p.batch, rows, b.model.Name)
			}
		}
		offset += p.batch
		p.reply <- r
	}
}

// concatFirst joins tensors of equal trailing shape along dimension 0 into a tensor of
// total rows; rows beyond the parts' are zero.
func concatFirst(parts []*tensor.Tensor, total int) *tensor.Tensor {
	shape := append([]int{total}, parts[0].Shape()[1:]...)
	out := tensor.New(parts[0].DType(), shape)
	off := 0
	for _, p := range parts {
		off += copy(out.Bytes()[off:], p.Bytes())
	}
	return out
}

// sliceFirst takes rows [offset, offset+n) of every output (whose first dimension
// must be the batch).
func sliceFirst(outs map[string]*tensor.Tensor, offset, n, total int, model string) (map[string]*tensor.Tensor, error) {
	res := make(map[string]*tensor.Tensor, len(outs))
	for name, t := range outs {
		if t.Rank() == 0 || t.Shape()[0] != total {
			return nil, errorf(codes.Internal, "model %q: output %q has shape %v, which does not carry the batch of %d on its first dimension", model, name, t.Shape(), total)
		}
		row := len(t.Bytes()) / total
		shape := append([]int{n}, t.Shape()[1:]...)
		part, err := tensor.FromBytes(t.DType(), shape, t.Bytes()[offset*row:(offset+n)*row])
		if err != nil {
			return nil, err
		}
		res[name] = part
	}
	return res, nil
}
