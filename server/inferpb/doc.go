// Package inferpb holds the generated Go code of the KServe v2 gRPC protocol
// (inference.proto) and LightOS's simple Predict service (predict.proto).
package inferpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative inference.proto predict.proto
