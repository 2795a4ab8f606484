package kernel

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/lightiam/lightos/kernel/wire"
)

// handle answers one shell or control request between busy and idle.
func (k *Kernel) handle(s *socket, req *wire.Message) {
	k.publish("status", req, map[string]any{"execution_state": "busy"})
	defer k.publish("status", req, map[string]any{"execution_state": "idle"})
	defer func() {
		// The outer entry point: no panic may kill the kernel.
		if r := recover(); r != nil {
			k.log.Printf("%s %s: panic: %v\n%s", s.name, req.Header.MsgType, r, debug.Stack())
			k.reply(s, req, replyType(req.Header.MsgType), map[string]any{
				"status": "error", "ename": "KernelError", "evalue": fmt.Sprint(r), "traceback": []string{fmt.Sprint(r)},
			})
		}
	}()
	switch t := req.Header.MsgType; t {
	case "kernel_info_request":
		k.reply(s, req, "kernel_info_reply", k.kernelInfo())
	case "execute_request":
		k.execute(s, req)
	case "complete_request":
		k.complete(s, req)
	case "inspect_request":
		k.inspect(s, req)
	case "is_complete_request":
		k.isComplete(s, req)
	case "history_request":
		k.historyRequest(s, req)
	case "comm_info_request":
		k.commInfo(s, req)
	case "comm_open":
		k.commOpen(req)
	case "comm_msg":
		k.commMsg(req)
	case "comm_close":
		k.commClose(req)
	case "interrupt_request":
		k.interrupt()
		k.reply(s, req, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		var c struct {
			Restart bool `json:"restart"`
		}
		if err := req.DecodeContent(&c); err != nil {
			k.log.Print(err)
		}
		k.reply(s, req, "shutdown_reply", map[string]any{"status": "ok", "restart": c.Restart})
		k.publish("shutdown_reply", req, map[string]any{"status": "ok", "restart": c.Restart})
		defer k.Shutdown()
	default:
		if strings.HasSuffix(t, "_request") {
			k.reply(s, req, replyType(t), map[string]any{
				"status": "error", "ename": "NotImplemented", "evalue": "unsupported request " + t, "traceback": []string{},
			})
		} else {
			k.log.Printf("%s: ignoring %s", s.name, t)
		}
	}
}

func replyType(reqType string) string {
	return strings.TrimSuffix(reqType, "_request") + "_reply"
}

func (k *Kernel) kernelInfo() map[string]any {
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       wire.ProtocolVersion,
		"implementation":         "lightos",
		"implementation_version": Version,
		"language_info": map[string]any{
			"name":               "go",
			"version":            goVersion,
			"mimetype":           "text/x-go",
			"file_extension":     ".go",
			"codemirror_mode":    "go",
			"pygments_lexer":     "go",
			"nbconvert_exporter": "script",
		},
		"banner": fmt.Sprintf("LightOS %s: Go %s cells interpreted by yaegi, the LightOS engine compiled in.", Version, goVersion),
		"help_links": []map[string]string{
			{"text": "Go language", "url": "https://go.dev/doc/"},
			{"text": "yaegi", "url": "https://github.com/traefik/yaegi"},
		},
		"debugger": false,
	}
}

// byteOffset converts a cursor position in code points (protocol 5.2+) into
// a byte offset of code.
func byteOffset(code string, cursor int) int {
	if cursor < 0 {
		return len(code)
	}
	i := 0
	for n := 0; n < cursor && i < len(code); n++ {
		_, size := utf8.DecodeRuneInString(code[i:])
		i += size
	}
	return i
}

// runeOffset converts a byte offset into code points.
func runeOffset(code string, off int) int {
	if off > len(code) {
		off = len(code)
	}
	return utf8.RuneCountInString(code[:off])
}

type codeRequest struct {
	Code        string `json:"code"`
	CursorPos   *int   `json:"cursor_pos"`
	DetailLevel int    `json:"detail_level"`
}

func (r codeRequest) cursor() int {
	if r.CursorPos == nil {
		return len(r.Code)
	}
	return byteOffset(r.Code, *r.CursorPos)
}

func (k *Kernel) complete(s *socket, req *wire.Message) {
	var c codeRequest
	if err := req.DecodeContent(&c); err != nil {
		k.replyError(s, req, err)
		return
	}
	matches, start, end := k.eval.Complete(c.Code, c.cursor())
	if matches == nil {
		matches = []string{}
	}
	k.reply(s, req, "complete_reply", map[string]any{
		"status": "ok", "matches": matches,
		"cursor_start": runeOffset(c.Code, start), "cursor_end": runeOffset(c.Code, end),
		"metadata": map[string]any{},
	})
}

func (k *Kernel) inspect(s *socket, req *wire.Message) {
	var c codeRequest
	if err := req.DecodeContent(&c); err != nil {
		k.replyError(s, req, err)
		return
	}
	text, found := k.eval.Inspect(c.Code, c.cursor())
	data := map[string]any{}
	if found {
		data["text/plain"] = text
	}
	k.reply(s, req, "inspect_reply", map[string]any{"status": "ok", "found": found, "data": data, "metadata": map[string]any{}})
}

func (k *Kernel) isComplete(s *socket, req *wire.Message) {
	var c codeRequest
	if err := req.DecodeContent(&c); err != nil {
		k.replyError(s, req, err)
		return
	}
	status, indent := k.eval.IsComplete(c.Code)
	content := map[string]any{"status": status}
	if status == "incomplete" {
		content["indent"] = indent
	}
	k.reply(s, req, "is_complete_reply", content)
}

// replyError answers a request whose content could not be read.
func (k *Kernel) replyError(s *socket, req *wire.Message, err error) {
	k.reply(s, req, replyType(req.Header.MsgType), map[string]any{
		"status": "error", "ename": "BadRequest", "evalue": err.Error(), "traceback": []string{err.Error()},
	})
}
