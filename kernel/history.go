package kernel

import (
	"regexp"
	"strings"

	"github.com/lightiam/lightos/kernel/wire"
)

// historySession is the session number of this kernel's history entries
// (history is not persisted, so every kernel has one session).
const historySession = 1

type historyEntry struct {
	line int
	code string
}

func (k *Kernel) addHistory(line int, code string) {
	k.mu.Lock()
	k.history = append(k.history, historyEntry{line, code})
	k.mu.Unlock()
}

type historyRequest struct {
	Output         bool   `json:"output"`
	Raw            bool   `json:"raw"`
	HistAccessType string `json:"hist_access_type"`
	Session        int    `json:"session"`
	Start          int    `json:"start"`
	Stop           int    `json:"stop"`
	N              int    `json:"n"`
	Pattern        string `json:"pattern"`
	Unique         bool   `json:"unique"`
}

func (k *Kernel) historyRequest(s *socket, req *wire.Message) {
	var c historyRequest
	if err := req.DecodeContent(&c); err != nil {
		k.replyError(s, req, err)
		return
	}
	k.mu.Lock()
	all := append([]historyEntry(nil), k.history...)
	k.mu.Unlock()
	var sel []historyEntry
	switch c.HistAccessType {
	case "tail":
		n := c.N
		if n <= 0 || n > len(all) {
			n = len(all)
		}
		sel = all[len(all)-n:]
	case "range":
		if c.Session == 0 || c.Session == historySession || c.Session == -1 {
			for _, e := range all {
				if e.line >= c.Start && (c.Stop <= 0 || e.line < c.Stop) {
					sel = append(sel, e)
				}
			}
		}
	case "search":
		re := globRegexp(c.Pattern)
		seen := map[string]bool{}
		for _, e := range all {
			if re.MatchString(e.code) && !(c.Unique && seen[e.code]) {
				seen[e.code] = true
				sel = append(sel, e)
			}
		}
		if c.N > 0 && len(sel) > c.N {
			sel = sel[len(sel)-c.N:]
		}
	}
	out := make([]any, 0, len(sel))
	for _, e := range sel {
		if c.Output {
			out = append(out, []any{historySession, e.line, []any{e.code, nil}})
		} else {
			out = append(out, []any{historySession, e.line, e.code})
		}
	}
	k.reply(s, req, "history_reply", map[string]any{"status": "ok", "history": out})
}

// globRegexp turns a history search pattern (* and ? wildcards, matched
// against the whole cell) into a regexp.
func globRegexp(pattern string) *regexp.Regexp {
	if pattern == "" {
		pattern = "*"
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
