package kernel

import (
	"context"
	"errors"

	"github.com/lightiam/lightos/kernel/wire"
)

// serve reads requests from a shell or control socket and handles them one at
// a time. After a cell fails with stop_on_error, the execute requests already
// queued are answered "aborted" instead of run (as ipykernel does).
func (k *Kernel) serve(s *socket) {
	queue := make(chan *wire.Message, 256)
	go k.receive(s, queue)
	for msg := range queue {
		k.handle(s, msg)
		if !k.takeAbort() {
			continue
		}
	drain:
		for {
			select {
			case next, ok := <-queue:
				if !ok {
					return
				}
				if next.Header.MsgType == "execute_request" {
					k.abortRequest(s, next)
				} else {
					k.handle(s, next)
				}
			default:
				break drain
			}
		}
	}
}

// receive decodes and verifies messages from s into queue until s closes.
func (k *Kernel) receive(s *socket, queue chan<- *wire.Message) {
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
		queue <- msg
	}
}

// takeAbort reports and clears the stop_on_error state.
func (k *Kernel) takeAbort() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.aborting
	k.aborting = false
	return a
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
