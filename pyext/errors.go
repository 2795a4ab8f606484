package pyext

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lightiam/lightos/backends"
	"github.com/lightiam/lightos/engine/custom"
	"github.com/lightiam/lightos/engine/exec"
)

// Error kinds: the bracketed prefix of every error message, one per Python exception.
const (
	KindShape          = "ShapeError"
	KindDType          = "DTypeError"
	KindMissingInput   = "MissingInputError"
	KindGraph          = "GraphError"
	KindModelFormat    = "ModelFormatError"
	KindDeviceNotFound = "DeviceNotFoundError"
	KindUnsupported    = "UnsupportedOpError"
	KindNotImplemented = "NotImplementedError"
	KindCustomOp       = "CustomOpError"
	KindHandle         = "InvalidHandleError"
	KindArgument       = "ArgumentError"
	KindIO             = "IOError"
	KindInternal       = "InternalError"
	KindExecution      = "ExecutionError"
)

func kerr(kind, format string, args ...any) error {
	return fmt.Errorf("[%s] %s", kind, fmt.Sprintf(format, args...))
}

// classify prefixes an engine error with its kind, unless it already has one.
func classify(err error, fallback string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "[") {
		return err
	}
	var ce *custom.Error
	kind := fallback
	switch {
	case errors.As(err, &ce):
		kind = KindCustomOp
	case errors.Is(err, custom.ErrNotRegistered):
		kind = KindCustomOp
	case errors.Is(err, exec.ErrFeed):
		kind = KindShape
	case errors.Is(err, backends.ErrUnsupported):
		kind = KindUnsupported
	case strings.Contains(msg, "not implemented"):
		kind = KindNotImplemented
	}
	return fmt.Errorf("[%s] %w", kind, err)
}
