package kernel

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/lightiam/lightos/kernel/wire"
)

// freePorts returns n distinct free TCP ports: their listeners stay open until all
// are chosen, so that the system cannot hand out one port twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// awaitListening waits until something accepts TCP connections on each port, or
// the kernel's Run returns (its error then fails the test), for up to 30 s.
func awaitListening(t *testing.T, done chan error, ports ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-done:
				t.Fatalf("the kernel stopped before listening: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing listens on port %d: %v", p, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// client is a minimal frontend: shell and control DEALERs, an iopub SUB.
type client struct {
	t              *testing.T
	signer         *wire.Signer
	shell, control zmq4.Socket
	iopub          zmq4.Socket
}

func startKernel(t *testing.T) (*client, chan error) {
	t.Helper()
	ports := freePorts(t, 5)
	conn := ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", Key: "test-key", SignatureScheme: "hmac-sha256",
		ShellPort: ports[0], ControlPort: ports[1], StdinPort: ports[2], IOPubPort: ports[3], HBPort: ports[4]}
	k, err := New(conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.Run(context.Background()) }()
	awaitListening(t, done, conn.ShellPort, conn.ControlPort, conn.IOPubPort)
	ctx := context.Background()
	c := &client{t: t, signer: k.signer,
		shell:   zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("test-shell"))),
		control: zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("test-control"))),
		iopub:   zmq4.NewSub(ctx)}
	for _, d := range []struct {
		s    zmq4.Socket
		port int
	}{{c.shell, conn.ShellPort}, {c.control, conn.ControlPort}, {c.iopub, conn.IOPubPort}} {
		if err := d.s.Dial(conn.endpoint(d.port)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.iopub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.shell.Close()
		c.control.Close()
		c.iopub.Close()
		k.Shutdown()
	})
	return c, done
}

func (c *client) send(s zmq4.Socket, msgType string, content any, signer *wire.Signer) *wire.Message {
	c.t.Helper()
	m, err := wire.New(msgType, "client-session", nil, content)
	if err != nil {
		c.t.Fatal(err)
	}
	frames, err := m.Encode(signer)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := s.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		c.t.Fatal(err)
	}
	return m
}

func (c *client) recv(s zmq4.Socket) *wire.Message {
	c.t.Helper()
	type result struct {
		m   zmq4.Msg
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := s.Recv()
		ch <- result{m, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			c.t.Fatal(r.err)
		}
		msg, err := wire.Decode(r.m.Frames, c.signer)
		if err != nil {
			c.t.Fatalf("kernel sent a message that does not verify: %v", err)
		}
		return msg
	case <-time.After(30 * time.Second):
		c.t.Fatal("timed out waiting for a message")
	}
	return nil
}

func parentID(m *wire.Message) string {
	var h wire.Header
	json.Unmarshal(m.Parent, &h)
	return h.MsgID
}

// iopubFor collects iopub messages whose parent is req until its idle status.
func (c *client) iopubFor(req *wire.Message) []string {
	var seq []string
	for {
		m := c.recv(c.iopub)
		if parentID(m) != req.Header.MsgID {
			continue
		}
		kind := m.Header.MsgType
		if kind == "status" {
			var st struct {
				State string `json:"execution_state"`
			}
			m.DecodeContent(&st)
			kind += ":" + st.State
		}
		seq = append(seq, kind)
		if kind == "status:idle" {
			return seq
		}
	}
}

func TestKernelProtocol(t *testing.T) {
	c, done := startKernel(t)

	// kernel_info, retried until the iopub subscription is live.
	var info *wire.Message
	var req *wire.Message
	for i := 0; i < 50 && info == nil; i++ {
		req = c.send(c.shell, "kernel_info_request", map[string]any{}, c.signer)
		info = c.recv(c.shell)
	}
	var ki struct {
		Status   string `json:"status"`
		Protocol string `json:"protocol_version"`
		Lang     struct {
			Name     string `json:"name"`
			Mimetype string `json:"mimetype"`
		} `json:"language_info"`
	}
	info.DecodeContent(&ki)
	if ki.Status != "ok" || ki.Protocol != wire.ProtocolVersion || ki.Lang.Name != "go" || ki.Lang.Mimetype != "text/x-go" {
		t.Errorf("kernel_info_reply %s", info.Content)
	}
	if info.Header.Version != wire.ProtocolVersion || parentID(info) != req.Header.MsgID {
		t.Errorf("reply header %+v parent %s", info.Header, info.Parent)
	}

	// A message signed with another key is dropped; the next one is answered.
	bad, _ := wire.NewSigner("hmac-sha256", []byte("wrong-key"))
	c.send(c.shell, "execute_request", map[string]any{"code": "panic(1)"}, bad)
	// execute: busy, execute_input, execute_result, idle, all with the request as parent.
	exe := c.send(c.shell, "execute_request", map[string]any{"code": "x := 20\nx * 2 + 2", "silent": false, "store_history": true}, c.signer)
	got := c.iopubFor(exe)
	want := []string{"status:busy", "execute_input", "execute_result", "status:idle"}
	if len(got) != len(want) {
		t.Fatalf("iopub for execute: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("iopub for execute: %v, want %v", got, want)
			break
		}
	}
	reply := c.recv(c.shell)
	var er struct {
		Status string `json:"status"`
		Count  int    `json:"execution_count"`
	}
	reply.DecodeContent(&er)
	if reply.Header.MsgType != "execute_reply" || er.Status != "ok" || er.Count != 1 || parentID(reply) != exe.Header.MsgID {
		t.Errorf("execute_reply %s (the badly signed request must not have run)", reply.Content)
	}

	// Control requests are bracketed too; shutdown ends Run.
	sd := c.send(c.control, "shutdown_request", map[string]any{"restart": false}, c.signer)
	if r := c.recv(c.control); r.Header.MsgType != "shutdown_reply" {
		t.Errorf("got %s, want shutdown_reply", r.Header.MsgType)
	}
	_ = sd
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Run did not return after shutdown_request")
	}
}
