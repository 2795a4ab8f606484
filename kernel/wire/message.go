package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ProtocolVersion is the messaging protocol version the kernel speaks and puts
// in every header. jupyter_kernel_test's schemas accept extra reply keys only
// from 5.2 on, so this must stay at 5.3 or later.
const ProtocolVersion = "5.3"

// Delimiter separates routing identities from the message proper.
const Delimiter = "<IDS|MSG>"

// ErrBadSignature is returned by Decode when a message's signature is missing
// or does not match its parts.
var ErrBadSignature = errors.New("wire: bad message signature")

// Header is a message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is one protocol message. Parent and Content stay raw JSON so that a
// reply echoes the request's header byte for byte (unknown keys included) and
// handlers decode content into the struct they expect.
type Message struct {
	Identities [][]byte
	Header     Header
	RawHeader  json.RawMessage // the header as received; nil for built messages
	Parent     json.RawMessage // the parent header; "{}" when there is none
	Metadata   map[string]any
	Content    json.RawMessage
	Buffers    [][]byte
}

// Now formats t the way Jupyter dates are written (ISO 8601, UTC, microseconds).
func Now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") }

// New builds a message of type msgType in session, replying to parent (nil for
// none), with content marshalled to JSON. A reply is routed back to the
// parent's identities.
func New(msgType, session string, parent *Message, content any) (*Message, error) {
	c, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("wire: %s content: %w", msgType, err)
	}
	m := &Message{
		Header: Header{
			MsgID:    uuid.NewString(),
			Session:  session,
			Username: "kernel",
			Date:     Now(),
			MsgType:  msgType,
			Version:  ProtocolVersion,
		},
		Parent:   json.RawMessage("{}"),
		Metadata: map[string]any{},
		Content:  c,
	}
	if parent != nil {
		m.Parent = parent.HeaderJSON()
		m.Identities = parent.Identities
	}
	return m, nil
}

// HeaderJSON returns the header as JSON: the bytes received for a decoded
// message, the marshalled Header otherwise.
func (m *Message) HeaderJSON() json.RawMessage {
	if len(m.RawHeader) > 0 {
		return m.RawHeader
	}
	b, _ := json.Marshal(m.Header) // a struct of strings always marshals
	return b
}

// Encode returns the frames of m signed by s: identities, delimiter,
// signature, header, parent header, metadata, content, buffers.
func (m *Message) Encode(s *Signer) ([][]byte, error) {
	header := m.HeaderJSON()
	parent := m.Parent
	if len(parent) == 0 {
		parent = json.RawMessage("{}")
	}
	md := m.Metadata
	if md == nil {
		md = map[string]any{}
	}
	meta, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("wire: %s metadata: %w", m.Header.MsgType, err)
	}
	content := m.Content
	if len(content) == 0 {
		content = json.RawMessage("{}")
	}
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, []byte(Delimiter))
	frames = append(frames, []byte(s.Sign(header, parent, meta, content)))
	frames = append(frames, header, parent, meta, content)
	frames = append(frames, m.Buffers...)
	return frames, nil
}

// Decode parses frames into a Message and verifies its signature in constant
// time. It returns ErrBadSignature (wrapped) for a missing or wrong signature
// and a descriptive error for malformed frames; it never panics.
func Decode(frames [][]byte, s *Signer) (*Message, error) {
	i := 0
	for i < len(frames) && !bytes.Equal(frames[i], []byte(Delimiter)) {
		i++
	}
	if i == len(frames) {
		return nil, fmt.Errorf("wire: no %s delimiter in %d frames", Delimiter, len(frames))
	}
	rest := frames[i+1:]
	if len(rest) < 5 {
		return nil, fmt.Errorf("wire: %d frames after the delimiter, want at least 5", len(rest))
	}
	sig, header, parent, meta, content := rest[0], rest[1], rest[2], rest[3], rest[4]
	if !s.Verify(sig, header, parent, meta, content) {
		return nil, ErrBadSignature
	}
	m := &Message{
		Identities: frames[:i],
		RawHeader:  append(json.RawMessage(nil), header...),
		Parent:     append(json.RawMessage(nil), parent...),
		Content:    append(json.RawMessage(nil), content...),
		Buffers:    rest[5:],
	}
	if err := json.Unmarshal(header, &m.Header); err != nil {
		return nil, fmt.Errorf("wire: header: %w", err)
	}
	if m.Header.MsgType == "" {
		return nil, fmt.Errorf("wire: header has no msg_type")
	}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &m.Metadata); err != nil {
			return nil, fmt.Errorf("wire: %s metadata: %w", m.Header.MsgType, err)
		}
	}
	if m.Metadata == nil {
		m.Metadata = map[string]any{}
	}
	return m, nil
}

// DecodeContent unmarshals m's content into v, naming the message type on error.
func (m *Message) DecodeContent(v any) error {
	if len(m.Content) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Content, v); err != nil {
		return fmt.Errorf("wire: %s content: %w", m.Header.MsgType, err)
	}
	return nil
}
