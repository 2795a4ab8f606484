package kernel

import (
	"fmt"

	"github.com/lightiam/lightos/kernel/display"
	"github.com/lightiam/lightos/kernel/wire"
)

// send signs msg and sends it on s.
func (k *Kernel) send(s *socket, msg *wire.Message) {
	frames, err := msg.Encode(k.signer)
	if err != nil {
		k.log.Printf("%s: encoding %s: %v", s.name, msg.Header.MsgType, err)
		return
	}
	if err := s.send(frames); err != nil {
		k.log.Printf("%s: sending %s: %v", s.name, msg.Header.MsgType, err)
	}
}

// reply answers req on s with content.
func (k *Kernel) reply(s *socket, req *wire.Message, msgType string, content any) {
	msg, err := wire.New(msgType, k.session, req, content)
	if err != nil {
		k.log.Print(err)
		return
	}
	k.send(s, msg)
}

// publish sends a message on iopub with parent as its parent (nil: none).
func (k *Kernel) publish(msgType string, parent *wire.Message, content any) {
	msg, err := wire.New(msgType, k.session, parent, content)
	if err != nil {
		k.log.Print(err)
		return
	}
	topic := msgType
	if msgType == "stream" {
		if c, ok := content.(map[string]any); ok {
			topic = fmt.Sprintf("stream.%v", c["name"])
		}
	}
	msg.Identities = [][]byte{[]byte(topic)}
	k.send(k.iopub, msg)
}

// currentParent is the request outputs are attributed to.
func (k *Kernel) currentParent() *wire.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.parent
}

func (k *Kernel) publishStream(name, text string) {
	k.publish("stream", k.currentParent(), map[string]any{"name": name, "text": text})
}

// publisher implements display.Publisher on iopub.
type publisher struct{ k *Kernel }

func (p publisher) DisplayData(data display.Bundle, md map[string]any, id string, update bool) error {
	p.k.flushStreams()
	msgType := "display_data"
	if update {
		msgType = "update_display_data"
	}
	transient := map[string]any{}
	if id != "" {
		transient["display_id"] = id
	}
	p.k.publish(msgType, p.k.currentParent(), map[string]any{"data": data, "metadata": md, "transient": transient})
	return nil
}

func (p publisher) ClearOutput(wait bool) error {
	p.k.flushStreams()
	p.k.publish("clear_output", p.k.currentParent(), map[string]any{"wait": wait})
	return nil
}

// flushStreams sends buffered stream text now.
func (k *Kernel) flushStreams() {
	k.out.Flush()
	k.err.Flush()
}

// syncStreams waits until what was written to descriptors 1 and 2 has been
// read, then flushes.
func (k *Kernel) syncStreams() {
	for _, c := range k.caps {
		c.sync()
	}
	k.flushStreams()
}
