package gemm

//go:generate go run ./asm -out kernel_amd64.s -stubs kernel_stubs_amd64.go
