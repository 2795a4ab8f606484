// Package server serves models over the network in the KServe v2 / Open Inference
// Protocol, so that existing clients (tritonclient), load balancers and Kubernetes
// probes work unchanged:
//
//   - gRPC: inference.GRPCInferenceService (ServerLive, ServerReady, ModelReady,
//     ServerMetadata, ModelMetadata, ModelInfer with raw and typed contents, and the
//     repository API), grpc.health.v1.Health, and lightos.Predictor (the simple API).
//   - HTTP/REST: /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/{v}],
//     .../ready, .../infer (JSON and the binary tensor extension), /v2/repository/...,
//     and /metrics for Prometheus.
//
// Models come from a repository folder: one folder per model, numbered version
// folders holding model.onnx, model.lightos or model.pt, and an optional config.json
// (max batch size, instances, device, dynamic batching). Requests for a model with
// dynamic batching are queued and run together. Every run goes through a Scheduler
// (the PowerGovernor in production).
//
// The standard server (standard.go) is what `lightos serve` and `python -m
// lightos_accelerated.serve` share: ParseFlags (the command-line flags), NewStandard
// (CPU device, PowerGovernor, optimizer, DefaultLoaders, optional custom ops) and Run
// (listen on the gRPC and HTTP ports until the context ends, then drain).
package server
