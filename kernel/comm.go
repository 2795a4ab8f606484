package kernel

import (
	"github.com/lightiam/lightos/kernel/wire"
)

// EchoTarget is the comm target the kernel implements itself: every comm_msg
// sent to it comes back with the same data. Frontend code and tests use it
// to check the comm channel; unknown targets get a comm_close.
const EchoTarget = "lightos.echo"

type commContent struct {
	CommID     string         `json:"comm_id"`
	TargetName string         `json:"target_name"`
	Data       map[string]any `json:"data"`
}

func (k *Kernel) commInfo(s *socket, req *wire.Message) {
	var c struct {
		TargetName string `json:"target_name"`
	}
	if err := req.DecodeContent(&c); err != nil {
		k.replyError(s, req, err)
		return
	}
	comms := map[string]any{}
	k.mu.Lock()
	for id, target := range k.comms {
		if c.TargetName == "" || c.TargetName == target {
			comms[id] = map[string]any{"target_name": target}
		}
	}
	k.mu.Unlock()
	k.reply(s, req, "comm_info_reply", map[string]any{"status": "ok", "comms": comms})
}

func (k *Kernel) commOpen(req *wire.Message) {
	var c commContent
	if err := req.DecodeContent(&c); err != nil || c.CommID == "" {
		k.log.Printf("comm_open: bad content: %v", err)
		return
	}
	if c.TargetName != EchoTarget {
		k.publish("comm_close", req, map[string]any{"comm_id": c.CommID, "data": map[string]any{}})
		return
	}
	k.mu.Lock()
	k.comms[c.CommID] = c.TargetName
	k.mu.Unlock()
}

func (k *Kernel) commMsg(req *wire.Message) {
	var c commContent
	if err := req.DecodeContent(&c); err != nil {
		k.log.Printf("comm_msg: bad content: %v", err)
		return
	}
	k.mu.Lock()
	target, ok := k.comms[c.CommID]
	k.mu.Unlock()
	if !ok {
		k.log.Printf("comm_msg for unknown comm %q", c.CommID)
		return
	}
	if target == EchoTarget {
		data := c.Data
		if data == nil {
			data = map[string]any{}
		}
		k.publish("comm_msg", req, map[string]any{"comm_id": c.CommID, "data": data})
	}
}

func (k *Kernel) commClose(req *wire.Message) {
	var c commContent
	if err := req.DecodeContent(&c); err != nil {
		k.log.Printf("comm_close: bad content: %v", err)
		return
	}
	k.mu.Lock()
	delete(k.comms, c.CommID)
	k.mu.Unlock()
}
