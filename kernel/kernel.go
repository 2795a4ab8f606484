package kernel

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/google/uuid"
	"github.com/traefik/yaegi/interp"

	"github.com/lightiam/lightos/kernel/cell"
	"github.com/lightiam/lightos/kernel/display"
	"github.com/lightiam/lightos/kernel/eval"
	"github.com/lightiam/lightos/kernel/wire"
)

// Version is the kernel's implementation version.
const Version = "0.1.0"

// Options configure a Kernel. The zero value is the kernel as Jupyter runs it
// minus descriptor capture.
type Options struct {
	// Log receives the kernel's own diagnostics. Default: standard error as it
	// was before any capture.
	Log io.Writer
	// CaptureFDs redirects descriptors 1 and 2 into stream messages, so that
	// writes to os.Stdout and os.Stderr (and from C code) reach the notebook.
	// `lightos kernel run` sets it; tests that run a kernel in-process don't.
	CaptureFDs bool
	// HandleSIGINT makes SIGINT interrupt the running cell instead of killing
	// the process (interrupt_mode "signal").
	HandleSIGINT bool
	// Symbols are extra packages exported to cells (the engine's).
	Symbols []interp.Exports
	// Prelude is Go source run when the session starts, after the kernel's
	// own imports of display and cell.
	Prelude string
	// Docs documents compiled symbols for inspect requests.
	Docs func(path, name string) string
	// Renderers show values that have no rich display of their own (engine
	// objects); tried before package display's rules.
	Renderers []display.Renderer
}

// Kernel is one running kernel.
type Kernel struct {
	opts    Options
	conn    ConnectionInfo
	signer  *wire.Signer
	session string
	log     *log.Logger

	shell, control, stdin, iopub, hb *socket

	eval *eval.Session
	disp *display.Displayer
	out  *stream
	err  *stream
	caps []*fdCapture

	mu        sync.Mutex
	parent    *wire.Message // the request whose outputs are being produced
	allowIn   bool
	aborting  bool      // a cell failed with stop_on_error: abort queued cells
	abortAt   time.Time // when: requests received later are not aborted
	count     int
	cancel    context.CancelFunc
	history   []historyEntry
	comms     map[string]string // comm id -> target name
	inputs    chan *wire.Message
	done      chan struct{}
	closeOnce sync.Once
}

// socket is a zmq4 socket whose sends are serialized.
type socket struct {
	name string
	zmq4.Socket
	mu sync.Mutex
}

func (s *socket) send(frames [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Send(zmq4.NewMsgFrom(frames...))
}

// New prepares a kernel for the given connection: it creates the interpreter
// session but binds no socket yet.
func New(conn ConnectionInfo, opts Options) (*Kernel, error) {
	signer, err := wire.NewSigner(conn.SignatureScheme, []byte(conn.Key))
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
		if opts.CaptureFDs {
			// Descriptor 2 will feed the notebook; log to the original, and
			// send a fatal runtime error (which kills the process before the
			// pipe is read) there too, so the notebook server's log shows why
			// the kernel died.
			if f, err := savedStderr(); err == nil {
				opts.Log = f
				if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
					fmt.Fprintf(f, "lightos kernel: crash output: %v\n", err)
				}
			}
		}
	}
	k := &Kernel{
		opts:    opts,
		conn:    conn,
		signer:  signer,
		session: uuid.NewString(),
		log:     log.New(opts.Log, "lightos kernel: ", log.LstdFlags),
		comms:   map[string]string{},
		inputs:  make(chan *wire.Message, 1),
		done:    make(chan struct{}),
	}
	k.out = newStream("stdout", k.publishStream)
	k.err = newStream("stderr", k.publishStream)
	k.disp = display.New(publisher{k}, opts.Renderers...)
	rt := &cell.Runtime{ContextFunc: k.cellContext, InputFunc: k.input}
	syms := append([]interp.Exports{display.Exports(k.disp), cell.Exports(rt)}, opts.Symbols...)
	prelude := fmt.Sprintf("import (\n\t%q\n\t%q\n)\n", display.ImportPath, cell.ImportPath) + opts.Prelude
	k.eval, err = eval.New(eval.Options{
		Stdout:    k.out,
		Stderr:    k.err,
		Stdin:     &inputReader{k: k},
		Symbols:   syms,
		Prelude:   prelude,
		OnGoPanic: k.orphanPanic,
		Docs:      opts.Docs,
	})
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	return k, nil
}

func (k *Kernel) cellContext() context.Context { return k.eval.Context() }

// Run binds the sockets, serves requests until a shutdown request arrives or
// ctx ends, and closes everything.
func (k *Kernel) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mk := []struct {
		dst  **socket
		name string
		s    zmq4.Socket
		port int
	}{
		{&k.shell, "shell", zmq4.NewRouter(ctx), k.conn.ShellPort},
		{&k.control, "control", zmq4.NewRouter(ctx), k.conn.ControlPort},
		{&k.stdin, "stdin", zmq4.NewRouter(ctx), k.conn.StdinPort},
		{&k.iopub, "iopub", zmq4.NewPub(ctx), k.conn.IOPubPort},
		{&k.hb, "hb", zmq4.NewRep(ctx), k.conn.HBPort},
	}
	for _, m := range mk {
		*m.dst = &socket{name: m.name, Socket: m.s}
		if err := m.s.Listen(k.conn.endpoint(m.port)); err != nil {
			k.closeSockets()
			return fmt.Errorf("kernel: %s socket on %s: %w", m.name, k.conn.endpoint(m.port), err)
		}
	}
	defer k.closeSockets()
	if k.opts.CaptureFDs {
		for _, c := range []struct {
			fd int
			s  *stream
		}{{1, k.out}, {2, k.err}} {
			cp, err := captureFD(c.fd, c.s)
			if err != nil {
				k.log.Printf("capturing descriptor %d: %v", c.fd, err)
				continue
			}
			k.caps = append(k.caps, cp)
		}
		defer k.releaseFDs()
	}
	if k.opts.HandleSIGINT {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		defer signal.Stop(sig)
		go func() {
			for {
				select {
				case <-sig:
					k.interrupt()
				case <-k.done:
					return
				}
			}
		}()
	}
	go k.watchParent()
	k.publish("status", nil, map[string]any{"execution_state": "starting"})
	go k.heartbeat()
	go k.serve(k.shell)
	go k.serve(k.control)
	go k.readStdin()
	select {
	case <-ctx.Done():
	case <-k.done:
	}
	return nil
}

// watchParent shuts the kernel down when the process that launched it (named
// by jupyter_client in JPY_PARENT_PID) goes away, so that no orphan kernel
// outlives its notebook server.
func (k *Kernel) watchParent() {
	ppid, err := strconv.Atoi(os.Getenv("JPY_PARENT_PID"))
	if err != nil || ppid <= 1 || os.Getppid() != ppid {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-k.done:
			return
		case <-t.C:
			if os.Getppid() != ppid {
				k.log.Printf("parent process %d is gone; shutting down", ppid)
				k.Shutdown()
				return
			}
		}
	}
}

// Shutdown stops Run.
func (k *Kernel) Shutdown() {
	k.closeOnce.Do(func() {
		k.interrupt()
		close(k.done)
	})
}

func (k *Kernel) closeSockets() {
	for _, s := range []*socket{k.shell, k.control, k.stdin, k.iopub, k.hb} {
		if s != nil {
			s.Close()
		}
	}
}

func (k *Kernel) releaseFDs() {
	for _, c := range k.caps {
		c.release()
	}
}

func (k *Kernel) heartbeat() {
	for {
		msg, err := k.hb.Recv()
		if err != nil {
			return
		}
		if err := k.hb.Send(msg); err != nil {
			return
		}
	}
}

// interrupt cancels the running cell, if any.
func (k *Kernel) interrupt() {
	k.mu.Lock()
	cancel := k.cancel
	k.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// orphanPanic reports a panic of a goroutine whose cell has finished, as an
// error output of the last cell.
func (k *Kernel) orphanPanic(e *eval.Error) {
	k.syncStreams()
	k.publish("error", k.currentParent(), map[string]any{"ename": e.Name, "evalue": e.Value, "traceback": e.Traceback})
}
