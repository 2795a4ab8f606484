package kernel

import (
	"context"
	"errors"
	"time"

	"github.com/lightiam/lightos/kernel/wire"
)

// serve reads requests from a shell or control socket and handles them one at
// a time. After a cell fails with stop_on_error, the execute requests already
// queued are answered "aborted" instead of run (as ipykernel does).
//
// Only requests received before the failing cell's reply was sent are aborted: a
// client that sends its next cell after seeing the error gets it run.
func (k *Kernel) serve(s *socket) {
	queue := make(chan received, 256)
	go k.receive(s, queue)
	for r := range queue {
		k.handle(s, r.msg)
		abortAt, aborting := k.takeAbort()
		if !aborting {
			continue
		}
	drain:
		for {
			select {
			case next, ok := <-queue:
				if !ok {
					return
				}
				if next.msg.Header.MsgType == "execute_request" && next.at.Before(abortAt) {
					k.abortRequest(s, next.msg)
				} else {
					k.handle(s, next.msg)
				}
			default:
				break drain
			}
		}
	}
}

// received is a verified message and the time it arrived.
type received struct {
	msg *wire.Message
	at  time.Time
}

// receive decodes and verifies messages from s into queue until s closes.
func (k *Kernel) receive(s *socket, queue chan<- received) {
	defer close(queue)
	for {
		raw, err := s.Recv()
		if err != nil {
			select {
			case <-k.done:
			default:
				if !errors.Is(err, context.Canceled) {
					k.log.Printf("%s: receive: %v", s.name, err)
				}
			}
			return
		}
		msg, err := wire.Decode(raw.Frames, k.signer)
		if err != nil {
			k.log.Printf("%s: dropping message: %v", s.name, err)
			continue
		}
		queue <- received{msg: msg, at: time.Now()}
	}
}

// takeAbort reports and clears the stop_on_error state, with the time it was set.
func (k *Kernel) takeAbort() (time.Time, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.aborting
	k.aborting = false
	return k.abortAt, a
}

// abortRequest answers a queued execute request without running it.
func (k *Kernel) abortRequest(s *socket, req *wire.Message) {
	k.publish("status", req, map[string]any{"execution_state": "busy"})
	k.reply(s, req, "execute_reply", map[string]any{"status": "aborted", "execution_count": k.executionCount()})
	k.publish("status", req, map[string]any{"execution_state": "idle"})
}

func (k *Kernel) executionCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.count
}

// readStdin forwards input replies to the cell waiting for them.
func (k *Kernel) readStdin() {
	for {
		raw, err := k.stdin.Recv()
		if err != nil {
			return
		}
		msg, err := wire.Decode(raw.Frames, k.signer)
		if err != nil {
			k.log.Printf("stdin: dropping message: %v", err)
			continue
		}
		if msg.Header.MsgType != "input_reply" {
			continue
		}
		select {
		case k.inputs <- msg:
		default:
			k.log.Printf("stdin: input_reply with no request waiting")
		}
	}
}
