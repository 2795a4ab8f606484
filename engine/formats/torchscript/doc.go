// Package torchscript loads traced PyTorch models saved with torch.jit.save, without
// libtorch: it reads the zip archive, unpickles the module tree (data.pkl) and the
// constants (constants.pkl), maps tensor storages straight from the file, parses the
// serialized TorchScript code of each module class, and lowers forward() into the
// engine's graph IR, inlining calls into submodules.
//
// Traces keep their shape arithmetic (torch.size, NumToTensor, int(), list-built
// shapes for view/reshape); it is lowered into small int64 graph computations that the
// executor folds into constants once the input shapes are known, so dynamic batch sizes
// keep working and the arithmetic costs nothing at run time.
//
// Code with control flow (scripted models with if/for/while) and unsupported aten
// operators gives one error listing every problem. A damaged archive gives an error,
// never a panic.
package torchscript
