package symbols

import (
	"reflect"
	"strings"

	"github.com/traefik/yaegi/interp"
)

// Symbols is filled by the generated files' init functions: import path/name
// to exported symbol values, as `yaegi extract` writes them.
var Symbols = map[string]map[string]reflect.Value{}

// Prelude is Go source every session runs first (nothing yet).
const Prelude = ""

// Exports returns the generated tables for interp.Use.
func Exports() []interp.Exports {
	return []interp.Exports{Symbols}
}

// Doc returns the documentation of a symbol of a generated package ("" when
// unknown); name "" asks for the package's documentation.
func Doc(path, name string) string {
	if name == "" {
		return docs[path]
	}
	if d, ok := docs[path+"."+name]; ok {
		return d
	}
	// display and cell export methods of their per-session types as
	// package functions: look for Type.name.
	for k, d := range docs {
		if strings.HasPrefix(k, path+".") && strings.HasSuffix(k, "."+name) && strings.Count(k[len(path)+1:], ".") == 1 {
			return d
		}
	}
	return ""
}

// docs is filled by the generated docs file.
var docs = map[string]string{}
