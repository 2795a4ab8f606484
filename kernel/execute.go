package kernel

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/lightiam/lightos/kernel/display"
	"github.com/lightiam/lightos/kernel/eval"
	"github.com/lightiam/lightos/kernel/wire"
)

type executeRequest struct {
	Code            string            `json:"code"`
	Silent          bool              `json:"silent"`
	StoreHistory    *bool             `json:"store_history"`
	UserExpressions map[string]string `json:"user_expressions"`
	AllowStdin      bool              `json:"allow_stdin"`
	StopOnError     bool              `json:"stop_on_error"`
}

// execute runs a cell: execute_input, outputs, execute_result or error,
// execute_reply.
func (k *Kernel) execute(s *socket, req *wire.Message) {
	var c executeRequest
	if err := req.DecodeContent(&c); err != nil {
		k.replyError(s, req, err)
		return
	}
	store := !c.Silent && (c.StoreHistory == nil || *c.StoreHistory)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k.mu.Lock()
	if store {
		k.count++
	}
	count := k.count
	k.parent, k.allowIn, k.cancel = req, c.AllowStdin, cancel
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.cancel, k.allowIn = nil, false
		k.mu.Unlock()
	}()

	if !c.Silent {
		k.publish("execute_input", req, map[string]any{"code": c.Code, "execution_count": count})
	}
	name := fmt.Sprintf("cell[%d]", count)
	if !store {
		name = "cell[-]"
	}
	res, err := k.eval.Run(ctx, name, c.Code)
	k.syncStreams()
	if store {
		k.addHistory(count, c.Code)
	}
	if err != nil {
		var e *eval.Error
		if !errors.As(err, &e) {
			e = &eval.Error{Name: "Error", Value: err.Error(), Traceback: []string{err.Error()}}
		}
		content := map[string]any{"ename": e.Name, "evalue": e.Value, "traceback": e.Traceback}
		if !c.Silent {
			k.publish("error", req, content)
		}
		if c.StopOnError && !c.Silent {
			k.mu.Lock()
			k.aborting = true
			k.abortAt = time.Now()
			k.mu.Unlock()
		}
		content["status"] = "error"
		content["execution_count"] = count
		content["user_expressions"] = map[string]any{}
		content["payload"] = []any{}
		k.reply(s, req, "execute_reply", content)
		return
	}
	if res.HasValue && !c.Silent {
		if b, ok := k.valueBundle(res.Value); ok {
			for mime, text := range res.Rich {
				b[mime] = text
			}
			k.publish("execute_result", req, map[string]any{"execution_count": count, "data": b, "metadata": map[string]any{}})
		}
	}
	k.reply(s, req, "execute_reply", map[string]any{
		"status":           "ok",
		"execution_count":  count,
		"user_expressions": k.userExpressions(c.UserExpressions),
		"payload":          []any{},
	})
}

// userExpressions evaluates the execute request's user_expressions.
func (k *Kernel) userExpressions(exprs map[string]string) map[string]any {
	out := map[string]any{}
	for name, expr := range exprs {
		res, err := k.eval.Run(context.Background(), "user_expression", expr)
		var e *eval.Error
		switch {
		case errors.As(err, &e):
			out[name] = map[string]any{"status": "error", "ename": e.Name, "evalue": e.Value, "traceback": e.Traceback}
		case err != nil:
			out[name] = map[string]any{"status": "error", "ename": "Error", "evalue": err.Error(), "traceback": []string{}}
		case !res.HasValue:
			out[name] = map[string]any{"status": "ok", "data": map[string]any{"text/plain": ""}, "metadata": map[string]any{}}
		default:
			b, _ := k.valueBundle(res.Value)
			out[name] = map[string]any{"status": "ok", "data": b, "metadata": map[string]any{}}
		}
	}
	return out
}

// valueBundle is the bundle showing a cell's result; ok is false for results
// that are not shown (a display handle: the output is already there).
func (k *Kernel) valueBundle(v reflect.Value) (b display.Bundle, ok bool) {
	if !v.CanInterface() {
		return display.Bundle{"text/plain": fmt.Sprint(v)}, true
	}
	if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
		return nil, false // a nil error from a call, like Python's None
	}
	x := v.Interface()
	if _, isHandle := x.(*display.Handle); isHandle || x == nil {
		return nil, false
	}
	b, err := k.disp.Bundle(x)
	if err != nil {
		b = display.Bundle{"text/plain": err.Error()}
	}
	return b, true
}
