package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"strings"
	"testing"
)

// Reference signatures computed with Python's hmac module:
// hmac.new(key, digestmod=hashlib.sha256) updated with each part, hexdigest().
func TestSignAgainstPython(t *testing.T) {
	tests := []struct {
		key   []byte
		parts []string
		want  string
	}{
		{[]byte("secret-key"), []string{`{"msg_id":"a"}`, `{}`, `{}`, `{"code":"1+1"}`},
			"712005a3ddfac00ddc4b5e88335391b3a6ee2873954746371defcd8f11725fad"},
		{[]byte("\x00\xffk\xe9"), []string{"h", "p", "m", strings.Repeat("c", 300)},
			"7051688044e309ab509db39bfbbf383978d41fd4597c327427b7b6380ebb5227"},
	}
	for _, tc := range tests {
		s, err := NewSigner("hmac-sha256", tc.key)
		if err != nil {
			t.Fatal(err)
		}
		parts := make([][]byte, len(tc.parts))
		for i, p := range tc.parts {
			parts[i] = []byte(p)
		}
		if got := s.Sign(parts...); got != tc.want {
			t.Errorf("Sign(key %q) = %s, want %s", tc.key, got, tc.want)
		}
		if !s.Verify([]byte(tc.want), parts...) {
			t.Errorf("Verify(key %q) rejected the reference signature", tc.key)
		}
		if s.Verify([]byte(strings.ToUpper(tc.want[:10])+tc.want[10:]+"00"), parts...) {
			t.Errorf("Verify(key %q) accepted a longer signature", tc.key)
		}
	}
}

func TestNewSignerSchemes(t *testing.T) {
	tests := []struct {
		scheme string
		key    string
		ok     bool
	}{
		{"hmac-sha256", "k", true},
		{"hmac-sha256", "", true},
		{"", "", true},
		{"", "k", false},
		{"hmac-md5", "k", false},
	}
	for _, tc := range tests {
		_, err := NewSigner(tc.scheme, []byte(tc.key))
		if (err == nil) != tc.ok {
			t.Errorf("NewSigner(%q, %q) error = %v, want ok=%v", tc.scheme, tc.key, err, tc.ok)
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

// TestRoundTrip encodes messages with random identities, content sizes and
// buffers, decodes them, and checks every part survives; then flips one byte
// of each signed part and checks the message is rejected.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	s, _ := NewSigner("hmac-sha256", randBytes(r, 33))
	for _, size := range []int{0, 1, 7, 63, 1000, 65537} {
		for nids := 0; nids < 3; nids++ {
			content := map[string]any{"code": strings.Repeat("x", size), "silent": size%2 == 0}
			parent, _ := New("execute_request", "sess", nil, map[string]any{})
			parent.Identities = nil
			for i := 0; i < nids; i++ {
				parent.Identities = append(parent.Identities, randBytes(r, 1+r.Intn(17)))
			}
			m, err := New("execute_reply", "kern", parent, content)
			if err != nil {
				t.Fatal(err)
			}
			m.Buffers = [][]byte{randBytes(r, size%97)}
			frames, err := m.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(frames, s)
			if err != nil {
				t.Fatalf("size %d ids %d: %v", size, nids, err)
			}
			if len(got.Identities) != nids {
				t.Fatalf("identities: got %d want %d", len(got.Identities), nids)
			}
			for i := range got.Identities {
				if !bytes.Equal(got.Identities[i], parent.Identities[i]) {
					t.Errorf("identity %d differs", i)
				}
			}
			if got.Header != m.Header {
				t.Errorf("header: got %+v want %+v", got.Header, m.Header)
			}
			var pc Header
			if err := json.Unmarshal(got.Parent, &pc); err != nil || pc.MsgID != parent.Header.MsgID {
				t.Errorf("parent header not echoed: %s (%v)", got.Parent, err)
			}
			var gc map[string]any
			if err := got.DecodeContent(&gc); err != nil || gc["code"] != content["code"] {
				t.Errorf("content differs (%v)", err)
			}
			if len(got.Buffers) != 1 || !bytes.Equal(got.Buffers[0], m.Buffers[0]) {
				t.Errorf("buffers differ")
			}
			// Tamper with each signed part and with the signature itself.
			d := nids + 1
			for part := d; part < d+5; part++ {
				bad := make([][]byte, len(frames))
				copy(bad, frames)
				b := append([]byte(nil), frames[part]...)
				if len(b) == 0 {
					continue
				}
				b[r.Intn(len(b))] ^= 0x01
				bad[part] = b
				if _, err := Decode(bad, s); !errors.Is(err, ErrBadSignature) {
					t.Errorf("tampered frame %d accepted: %v", part, err)
				}
			}
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	s, _ := NewSigner("hmac-sha256", []byte("key"))
	good, _ := New("kernel_info_request", "s", nil, map[string]any{})
	frames, _ := good.Encode(s)
	unsigned, _ := good.Encode(&Signer{})
	tests := []struct {
		name   string
		frames [][]byte
		bad    error
	}{
		{"empty", nil, nil},
		{"no delimiter", [][]byte{[]byte("a"), []byte("b")}, nil},
		{"too few parts", frames[:4], nil},
		{"unsigned with key set", unsigned, ErrBadSignature},
		{"header not json", resign(s, frames, 2, []byte("{")), nil},
		{"no msg_type", resign(s, frames, 2, []byte(`{"msg_id":"x"}`)), nil},
		{"metadata not an object", resign(s, frames, 4, []byte(`[1]`)), nil},
	}
	for _, tc := range tests {
		m, err := Decode(tc.frames, s)
		if err == nil {
			t.Errorf("%s: decoded %+v, want an error", tc.name, m)
			continue
		}
		if tc.bad != nil && !errors.Is(err, tc.bad) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.bad)
		}
	}
	// With no key, only unsigned messages pass.
	if _, err := Decode(frames, &Signer{}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signed message accepted by a keyless signer: %v", err)
	}
	if _, err := Decode(unsigned, &Signer{}); err != nil {
		t.Errorf("unsigned message rejected by a keyless signer: %v", err)
	}
}

// resign replaces frame i and signs the result again.
func resign(s *Signer, frames [][]byte, i int, b []byte) [][]byte {
	out := make([][]byte, len(frames))
	copy(out, frames)
	out[i] = b
	out[1] = []byte(s.Sign(out[2], out[3], out[4], out[5]))
	return out
}
