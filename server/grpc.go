package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lightiam/lightos/engine/tensor"
	pb "github.com/lightiam/lightos/server/inferpb"
)

// NewGRPCServer returns a grpc.Server with the KServe v2 service, the simple Predict
// service and the standard health service registered. The health service reports
// SERVING until Drain (call health.Shutdown via the returned value's Stop).
func (s *Server) NewGRPCServer() (*grpc.Server, *health.Server) {
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(s.opts.MaxMessageBytes), grpc.MaxSendMsgSize(s.opts.MaxMessageBytes),
		grpc.ChainUnaryInterceptor(recoverInterceptor))
	pb.RegisterGRPCInferenceServiceServer(gs, &grpcService{s: s})
	pb.RegisterPredictorServer(gs, &predictService{s: s})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("inference.GRPCInferenceService", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	return gs, hs
}

// recoverInterceptor turns a panic in a handler into an Internal error.
func recoverInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, errorf(codes.Internal, "%s panicked: %v", info.FullMethod, r)
		}
	}()
	return handler(ctx, req)
}

type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func (g *grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: g.s.Live()}, nil
}

func (g *grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	_, err := g.s.Model(r.Name, r.Version)
	return &pb.ModelReadyResponse{Ready: err == nil && g.s.Ready()}, nil
}

func (g *grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: "lightos", Version: Version, Extensions: []string{"model_repository", "binary_tensor_data", "health"}}, nil
}

func (g *grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	m, err := g.s.Model(r.Name, r.Version)
	if err != nil {
		return nil, err
	}
	resp := &pb.ModelMetadataResponse{Name: m.Name, Versions: []string{m.Version}, Platform: m.Platform}
	for _, t := range m.Inputs {
		resp.Inputs = append(resp.Inputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: V2Name(t.DType), Shape: t.Shape})
	}
	for _, t := range m.Outputs {
		resp.Outputs = append(resp.Outputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: V2Name(t.DType), Shape: t.Shape})
	}
	return resp, nil
}

func (g *grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	if r.ModelName == "" {
		return nil, errorf(codes.InvalidArgument, "model_name is empty")
	}
	feeds := map[string]*tensor.Tensor{}
	if len(r.RawInputContents) > 0 && len(r.RawInputContents) != len(r.Inputs) {
		return nil, g.s.reject(r.ModelName, errorf(codes.InvalidArgument, "%d raw_input_contents for %d inputs", len(r.RawInputContents), len(r.Inputs)))
	}
	for i, in := range r.Inputs {
		if _, dup := feeds[in.Name]; dup {
			return nil, g.s.reject(r.ModelName, errorf(codes.InvalidArgument, "input %q given twice", in.Name))
		}
		var t *tensor.Tensor
		var err error
		if len(r.RawInputContents) > 0 {
			t, err = tensorFromRaw(in.Name, in.Datatype, in.Shape, r.RawInputContents[i])
		} else {
			c := in.Contents
			if c == nil {
				c = &pb.InferTensorContents{}
			}
			t, err = tensorFromTyped(in.Name, in.Datatype, in.Shape, typedValues{bools: c.BoolContents, ints: c.IntContents,
				int64s: c.Int64Contents, uints: c.UintContents, uint64s: c.Uint64Contents, fp32: c.Fp32Contents, fp64: c.Fp64Contents})
		}
		if err != nil {
			return nil, g.s.reject(r.ModelName, err)
		}
		feeds[in.Name] = t
	}
	outs, _, err := g.s.Infer(ctx, r.ModelName, r.ModelVersion, feeds)
	if err != nil {
		return nil, err
	}
	m, _ := g.s.Model(r.ModelName, r.ModelVersion)
	names, err := requestedOutputs(m, r.Outputs)
	if err != nil {
		return nil, err
	}
	resp := &pb.ModelInferResponse{ModelName: r.ModelName, ModelVersion: r.ModelVersion, Id: r.Id}
	if m != nil {
		resp.ModelVersion = m.Version
	}
	for _, name := range names {
		t := outs[name]
		resp.Outputs = append(resp.Outputs, &pb.ModelInferResponse_InferOutputTensor{Name: name, Datatype: V2Name(t.DType()), Shape: shape64(t)})
		resp.RawOutputContents = append(resp.RawOutputContents, t.Bytes())
	}
	return resp, nil
}

// requestedOutputs returns the output names to send: those asked for, or all.
func requestedOutputs(m *Model, req []*pb.ModelInferRequest_InferRequestedOutputTensor) ([]string, error) {
	var names []string
	if len(req) == 0 {
		if m != nil {
			for _, o := range m.Outputs {
				names = append(names, o.Name)
			}
		}
		return names, nil
	}
	for _, o := range req {
		ok := false
		if m != nil {
			for _, mo := range m.Outputs {
				ok = ok || mo.Name == o.Name
			}
		}
		if !ok {
			return nil, errorf(codes.InvalidArgument, "model has no output %q", o.Name)
		}
		names = append(names, o.Name)
	}
	return names, nil
}

func (g *grpcService) RepositoryIndex(context.Context, *pb.RepositoryIndexRequest) (*pb.RepositoryIndexResponse, error) {
	resp := &pb.RepositoryIndexResponse{}
	for _, m := range g.s.Index() {
		resp.Models = append(resp.Models, &pb.RepositoryIndexResponse_ModelIndex{Name: m.Name, Version: m.Version, State: m.State, Reason: m.Reason})
	}
	return resp, nil
}

func (g *grpcService) RepositoryModelLoad(_ context.Context, r *pb.RepositoryModelLoadRequest) (*pb.RepositoryModelLoadResponse, error) {
	if err := g.s.LoadModel(r.ModelName); err != nil {
		return nil, err
	}
	return &pb.RepositoryModelLoadResponse{}, nil
}

func (g *grpcService) RepositoryModelUnload(_ context.Context, r *pb.RepositoryModelUnloadRequest) (*pb.RepositoryModelUnloadResponse, error) {
	if err := g.s.UnloadModel(r.ModelName); err != nil {
		return nil, err
	}
	return &pb.RepositoryModelUnloadResponse{}, nil
}

type predictService struct {
	pb.UnimplementedPredictorServer
	s *Server
}

// Predict is the product description's simple API.
func (p *predictService) Predict(ctx context.Context, r *pb.PredictRequest) (*pb.PredictResponse, error) {
	start := time.Now()
	feeds := map[string]*tensor.Tensor{}
	for _, in := range r.Inputs {
		t, err := tensorFromRaw(in.Name, in.Datatype, in.Shape, in.Raw)
		if err != nil {
			return nil, err
		}
		feeds[in.Name] = t
	}
	outs, _, err := p.s.Infer(ctx, r.ModelName, "", feeds)
	if err != nil {
		return nil, err
	}
	m, _ := p.s.Model(r.ModelName, "")
	resp := &pb.PredictResponse{}
	names, _ := requestedOutputs(m, nil)
	for _, name := range names {
		t := outs[name]
		resp.Outputs = append(resp.Outputs, &pb.NamedTensor{Name: name, Datatype: V2Name(t.DType()), Shape: shape64(t), Raw: t.Bytes()})
	}
	resp.LatencyMs = float64(time.Since(start).Microseconds()) / 1000
	return resp, nil
}
