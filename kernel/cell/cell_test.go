package cell

import (
	"context"
	"errors"
	"testing"
)

func TestRuntime(t *testing.T) {
	var zero Runtime
	if zero.Context() != context.Background() || zero.Interrupted() {
		t.Errorf("zero Runtime: want Background and not interrupted")
	}
	if _, err := zero.Input("x"); !errors.Is(err, ErrNoInput) {
		t.Errorf("zero Runtime Input: %v, want ErrNoInput", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var prompts []string
	r := &Runtime{
		ContextFunc: func() context.Context { return ctx },
		InputFunc: func(p string, pw bool) (string, error) {
			prompts = append(prompts, p)
			if pw {
				return "secret", nil
			}
			return "v", nil
		},
	}
	if v, _ := r.Input("a"); v != "v" {
		t.Errorf("Input = %q", v)
	}
	if v, _ := r.Password("b"); v != "secret" {
		t.Errorf("Password = %q", v)
	}
	cancel()
	if !r.Interrupted() {
		t.Errorf("Interrupted after cancel = false")
	}
	if len(prompts) != 2 {
		t.Errorf("prompts %v", prompts)
	}
	ex := Exports(r)
	if _, ok := ex[ImportPath+"/cell"]["Context"]; !ok {
		t.Errorf("Exports lacks Context")
	}
}
