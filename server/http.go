package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"github.com/lightiam/lightos/engine/tensor"
)

// HTTPHandler serves the KServe v2 REST API and /metrics.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", s.httpServerMetadata)
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) { healthReply(w, s.Live()) })
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) { healthReply(w, s.Ready()) })
	mux.HandleFunc("GET /v2/models/{name}", s.httpModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.httpModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.httpModelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.httpModelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.httpInfer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.httpInfer)
	mux.HandleFunc("POST /v2/repository/index", s.httpIndex)
	mux.HandleFunc("POST /v2/repository/models/{name}/load", s.httpLoad)
	mux.HandleFunc("POST /v2/repository/models/{name}/unload", s.httpUnload)
	mux.HandleFunc("POST /v1/predict", s.httpPredict)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return recoverHTTP(mux)
}

func recoverHTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rec := recover(); rec != nil {
				writeError(w, errorf(codes.Internal, "%s %s panicked: %v", r.Method, r.URL.Path, rec))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func healthReply(w http.ResponseWriter, ok bool) {
	if ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, httpStatus(codeOf(err)), map[string]string{"error": err.Error()})
}

func (s *Server) httpServerMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "lightos", "version": Version, "extensions": []string{"model_repository", "binary_tensor_data", "health"}})
}

type tensorMetaJSON struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (s *Server) httpModelMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := s.Model(r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	meta := func(ts []TensorMeta) []tensorMetaJSON {
		out := []tensorMetaJSON{}
		for _, t := range ts {
			out = append(out, tensorMetaJSON{Name: t.Name, Datatype: V2Name(t.DType), Shape: t.Shape})
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": m.Name, "versions": []string{m.Version}, "platform": m.Platform,
		"inputs": meta(m.Inputs), "outputs": meta(m.Outputs)})
}

func (s *Server) httpModelReady(w http.ResponseWriter, r *http.Request) {
	_, err := s.Model(r.PathValue("name"), r.PathValue("version"))
	healthReply(w, err == nil && s.Ready())
}

func (s *Server) httpIndex(w http.ResponseWriter, r *http.Request) {
	out := []map[string]string{}
	for _, m := range s.Index() {
		row := map[string]string{"name": m.Name, "state": m.State}
		if m.Version != "" {
			row["version"] = m.Version
		}
		if m.Reason != "" {
			row["reason"] = m.Reason
		}
		out = append(out, row)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) httpLoad(w http.ResponseWriter, r *http.Request) {
	if err := s.LoadModel(r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) httpUnload(w http.ResponseWriter, r *http.Request) {
	if err := s.UnloadModel(r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// inferRequestJSON is the v2 REST request; data holds a (possibly nested) list.
type inferRequestJSON struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []struct {
		Name       string          `json:"name"`
		Shape      []int64         `json:"shape"`
		Datatype   string          `json:"datatype"`
		Parameters map[string]any  `json:"parameters,omitempty"`
		Data       json.RawMessage `json:"data,omitempty"`
	} `json:"inputs"`
	Outputs []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters,omitempty"`
	} `json:"outputs,omitempty"`
}

func (s *Server) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxMessageBytes)+1))
	if err != nil {
		return nil, errorf(codes.InvalidArgument, "reading request body: %v", err)
	}
	if len(body) > s.opts.MaxMessageBytes {
		return nil, errorf(codes.ResourceExhausted, "request body exceeds %d bytes", s.opts.MaxMessageBytes)
	}
	return body, nil
}

func (s *Server) httpInfer(w http.ResponseWriter, r *http.Request) {
	name, version := r.PathValue("name"), r.PathValue("version")
	body, err := s.readBody(r)
	if err != nil {
		writeError(w, s.reject(name, err))
		return
	}
	header, binary := body, []byte(nil)
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || n > len(body) {
			writeError(w, s.reject(name, errorf(codes.InvalidArgument, "bad Inference-Header-Content-Length %q for a %d-byte body", h, len(body))))
			return
		}
		header, binary = body[:n], body[n:]
	}
	var req inferRequestJSON
	dec := json.NewDecoder(bytes.NewReader(header))
	if err := dec.Decode(&req); err != nil {
		writeError(w, s.reject(name, errorf(codes.InvalidArgument, "malformed inference request JSON: %v", err)))
		return
	}
	feeds := map[string]*tensor.Tensor{}
	for _, in := range req.Inputs {
		if _, dup := feeds[in.Name]; dup {
			writeError(w, s.reject(name, errorf(codes.InvalidArgument, "input %q given twice", in.Name)))
			return
		}
		var t *tensor.Tensor
		if size, ok := in.Parameters["binary_data_size"]; ok {
			n, ok := size.(float64)
			if !ok || n < 0 || int(n) > len(binary) {
				writeError(w, s.reject(name, errorf(codes.InvalidArgument, "input %q: binary_data_size %v exceeds the %d bytes left in the body", in.Name, size, len(binary))))
				return
			}
			t, err = tensorFromRaw(in.Name, in.Datatype, in.Shape, binary[:int(n)])
			binary = binary[int(n):]
		} else {
			t, err = tensorFromJSON(in.Name, in.Datatype, in.Shape, in.Data)
		}
		if err != nil {
			writeError(w, s.reject(name, err))
			return
		}
		feeds[in.Name] = t
	}
	outs, _, err := s.Infer(r.Context(), name, version, feeds)
	if err != nil {
		writeError(w, err)
		return
	}
	m, _ := s.Model(name, version)
	// Which outputs, and which of them as binary.
	type want struct {
		name   string
		binary bool
	}
	var wants []want
	defBinary, _ := req.Parameters["binary_data_output"].(bool)
	if len(req.Outputs) == 0 && m != nil {
		for _, o := range m.Outputs {
			wants = append(wants, want{o.Name, defBinary})
		}
	}
	for _, o := range req.Outputs {
		if _, ok := outs[o.Name]; !ok {
			writeError(w, errorf(codes.InvalidArgument, "model %q has no output %q", name, o.Name))
			return
		}
		b, ok := o.Parameters["binary_data"].(bool)
		if !ok {
			b = defBinary
		}
		wants = append(wants, want{o.Name, b})
	}
	resp := map[string]any{"model_name": name, "id": req.ID}
	if m != nil {
		resp["model_version"] = m.Version
	}
	var outputs []map[string]any
	var blobs [][]byte
	for _, wt := range wants {
		t := outs[wt.name]
		o := map[string]any{"name": wt.name, "datatype": V2Name(t.DType()), "shape": shape64(t)}
		if wt.binary {
			o["parameters"] = map[string]any{"binary_data_size": len(t.Bytes())}
			blobs = append(blobs, t.Bytes())
		} else {
			o["data"] = jsonData(t)
		}
		outputs = append(outputs, o)
	}
	resp["outputs"] = outputs
	js, err := json.Marshal(resp)
	if err != nil {
		writeError(w, errorf(codes.Internal, "encoding response: %v", err))
		return
	}
	if len(blobs) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Write(js)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Inference-Header-Content-Length", strconv.Itoa(len(js)))
	w.Write(js)
	for _, b := range blobs {
		w.Write(b)
	}
}

// tensorFromJSON decodes the "data" field: a flat or nested list of numbers or bools.
func tensorFromJSON(name, datatype string, shape []int64, data json.RawMessage) (*tensor.Tensor, error) {
	if len(data) == 0 {
		return nil, errorf(codes.InvalidArgument, "input %q has neither data nor binary_data_size", name)
	}
	var nested any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&nested); err != nil {
		return nil, errorf(codes.InvalidArgument, "input %q: data: %v", name, err)
	}
	var flat []float64
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return err
			}
			flat = append(flat, f)
		case bool:
			flat = append(flat, b2f(x))
		default:
			return fmt.Errorf("unexpected %T in data", v)
		}
		return nil
	}
	if err := walk(nested); err != nil {
		return nil, errorf(codes.InvalidArgument, "input %q: %v", name, err)
	}
	return tensorFromTyped(name, datatype, shape, typedValues{fp64: flat, bools: nil, ints: nil}.asFloat(datatype))
}

// asFloat routes flat float64 values into the field tensorFromTyped reads for dt.
func (v typedValues) asFloat(datatype string) typedValues {
	flat := v.fp64
	out := typedValues{}
	switch datatype {
	case "FP32":
		out.fp32 = make([]float32, len(flat))
		for i, f := range flat {
			out.fp32[i] = float32(f)
		}
	case "FP64":
		out.fp64 = flat
	case "BOOL":
		out.bools = make([]bool, len(flat))
		for i, f := range flat {
			out.bools[i] = f != 0
		}
	case "INT64":
		out.int64s = make([]int64, len(flat))
		for i, f := range flat {
			out.int64s[i] = int64(f)
		}
	case "INT8", "INT16", "INT32":
		out.ints = make([]int32, len(flat))
		for i, f := range flat {
			out.ints[i] = int32(f)
		}
	case "UINT8", "UINT16", "UINT32":
		out.uints = make([]uint32, len(flat))
		for i, f := range flat {
			out.uints[i] = uint32(f)
		}
	case "UINT64":
		out.uint64s = make([]uint64, len(flat))
		for i, f := range flat {
			out.uint64s[i] = uint64(f)
		}
	}
	return out
}

// jsonData flattens a tensor into a JSON-friendly list.
func jsonData(t *tensor.Tensor) any {
	switch t.DType() {
	case tensor.Bool:
		return t.Bools()
	case tensor.Float32:
		out := make([]float64, t.Len())
		for i, v := range t.Float32s() {
			out[i] = float64(v)
		}
		return sanitize(out)
	}
	return sanitize(t.AsFloat64s())
}

// sanitize replaces NaN and infinities, which JSON cannot carry, by null.
func sanitize(xs []float64) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		if x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308 {
			out[i] = nil
		} else {
			out[i] = x
		}
	}
	return out
}

// httpPredict is the simple API over HTTP: {"model_name", "inputs": {name: nested list}}.
func (s *Server) httpPredict(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req struct {
		ModelName string                     `json:"model_name"`
		Inputs    map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, errorf(codes.InvalidArgument, "malformed predict request JSON: %v", err))
		return
	}
	m, err := s.Model(req.ModelName, "")
	if err != nil {
		writeError(w, err)
		return
	}
	feeds := map[string]*tensor.Tensor{}
	for name, raw := range req.Inputs {
		var meta *TensorMeta
		for i := range m.Inputs {
			if m.Inputs[i].Name == name {
				meta = &m.Inputs[i]
			}
		}
		if meta == nil {
			writeError(w, errorf(codes.InvalidArgument, "model %q has no input %q", req.ModelName, name))
			return
		}
		shape, err := nestedShape(raw)
		if err != nil {
			writeError(w, errorf(codes.InvalidArgument, "input %q: %v", name, err))
			return
		}
		t, err := tensorFromJSON(name, V2Name(meta.DType), shape, raw)
		if err != nil {
			writeError(w, err)
			return
		}
		feeds[name] = t
	}
	start := time.Now()
	outs, _, err := s.Infer(r.Context(), req.ModelName, "", feeds)
	if err != nil {
		writeError(w, err)
		return
	}
	res := map[string]any{}
	for name, t := range outs {
		res[name] = map[string]any{"shape": shape64(t), "datatype": V2Name(t.DType()), "data": jsonData(t)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"outputs": res, "latency_ms": float64(time.Since(start).Microseconds()) / 1000})
}

// nestedShape reads the shape of a rectangular nested JSON list.
func nestedShape(raw json.RawMessage) ([]int64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var shape []int64
	for {
		list, ok := v.([]any)
		if !ok {
			return shape, nil
		}
		shape = append(shape, int64(len(list)))
		if len(list) == 0 {
			return shape, nil
		}
		v = list[0]
	}
}
