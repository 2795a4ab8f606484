package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// Signer signs and verifies messages with HMAC-SHA256. The zero value (no key)
// signs with the empty signature and accepts only unsigned messages, which is
// what the protocol prescribes when the connection file's key is empty.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for the connection file's signature_scheme and key.
// Only "hmac-sha256" (and "" with an empty key) is supported.
func NewSigner(scheme string, key []byte) (*Signer, error) {
	switch scheme {
	case "hmac-sha256":
	case "":
		if len(key) != 0 {
			return nil, fmt.Errorf("wire: a key is set but signature_scheme is empty")
		}
	default:
		return nil, fmt.Errorf("wire: unsupported signature_scheme %q (want hmac-sha256)", scheme)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Enabled reports whether messages are signed (a key is set).
func (s *Signer) Enabled() bool { return s != nil && len(s.key) > 0 }

func (s *Signer) mac(parts [][]byte) hash.Hash {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m
}

// Sign returns the hex signature of the header, parent header, metadata and
// content frames, in that order; "" when no key is set.
func (s *Signer) Sign(parts ...[]byte) string {
	if !s.Enabled() {
		return ""
	}
	return hex.EncodeToString(s.mac(parts).Sum(nil))
}

// Verify reports whether sig is the signature of parts. The comparison runs in
// constant time. With no key set only the empty signature is accepted.
func (s *Signer) Verify(sig []byte, parts ...[]byte) bool {
	if !s.Enabled() {
		return len(sig) == 0
	}
	want := s.mac(parts).Sum(nil)
	got := make([]byte, hex.DecodedLen(len(sig)))
	n, err := hex.Decode(got, sig)
	if err != nil || n != len(want) {
		return false
	}
	return hmac.Equal(got[:n], want)
}
