// Package configdoc generates docs/config.md, the configuration reference,
// from the config types themselves: the key tree comes from provisioning.Config
// by reflection, and each key's text from its field's doc comment in the
// source, so the reference cannot drift from the code (a test checks that
// the committed file is current).
package configdoc

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/onair-gateway/onair/provisioning"
)

const module = "github.com/onair-gateway/onair/"

// Generate renders the reference. root is the module's root directory.
func Generate(root string) ([]byte, error) {
	g := &gen{root: root, docs: map[string]map[string]string{}}
	var b bytes.Buffer
	b.WriteString("# onair configuration reference\n\n")
	b.WriteString("Generated from the code by `go run ./internal/configdoc/gen`; do not edit by hand.\n\n")
	b.WriteString("onaird reads one YAML file (or JSON, by the `.json` extension).\n")
	b.WriteString("Unknown keys are errors, except top-level keys that start with `x-`, which are ignored: a place for YAML\n")
	b.WriteString("anchors that `<<` merges into sections (`x-server: &lk {url: ...}`, then `room: {<<: *lk, room: studio}`).\n")
	b.WriteString("Numbers must be finite, and whole where the field is an integer. Durations are strings with units (`20ms`, `1.5s`). Empty values take the\n")
	b.WriteString("default given below; a board profile (`board.profile`) supplies the capture device, format, mic geometry\n")
	b.WriteString("and controls, and any of them can be overridden. Secrets are never printed.\n\n")
	t := reflect.TypeOf(provisioning.Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := yamlKey(f)
		fmt.Fprintf(&b, "## `%s`\n\n", key)
		if err := g.describe(&b, f.Type, key, 0); err != nil {
			return nil, err
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

type gen struct {
	root string
	// docs[pkgPath+"."+Type][Field] = comment
	docs map[string]map[string]string
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "" {
		k = strings.ToLower(f.Name)
	}
	return k
}

func (g *gen) describe(b *bytes.Buffer, t reflect.Type, path string, depth int) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || !strings.HasPrefix(t.PkgPath(), module) || t.Name() == "Secret" || t.Name() == "Duration" {
		return nil
	}
	docs, err := g.fieldDocs(t)
	if err != nil {
		return err
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := path + "." + yamlKey(f)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		suffix := ""
		elem := ft
		if ft.Kind() == reflect.Slice {
			suffix = "[]"
			elem = ft.Elem()
		}
		fmt.Fprintf(b, "- `%s%s` (%s): %s\n", key, suffix, typeName(f.Type), oneLine(docs[f.Name]))
		if elem.Kind() == reflect.Struct {
			if err := g.describe(b, elem, key+suffix, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func typeName(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Name() == "Secret":
		return "secret"
	case t.Name() == "Duration":
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	case t.Kind() == reflect.Struct:
		return "section"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(undocumented)"
	}
	return s
}

// fieldDocs parses the source of t's package and returns its fields'
// comments. A comment shared by several fields on one line block applies
// to each.
func (g *gen) fieldDocs(t reflect.Type) (map[string]string, error) {
	id := t.PkgPath() + "." + t.Name()
	if d, ok := g.docs[id]; ok {
		return d, nil
	}
	dir := filepath.Join(g.root, strings.TrimPrefix(t.PkgPath(), module))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(node ast.Node) bool {
			ts, ok := node.(*ast.TypeSpec)
			if !ok || ts.Name.Name != t.Name() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			last := ""
			for _, fl := range st.Fields.List {
				doc := ""
				if fl.Doc != nil {
					doc = fl.Doc.Text()
				} else if fl.Comment != nil {
					doc = fl.Comment.Text()
				}
				if doc == "" {
					doc = last // "APIKey and APISecret ..." covers the next field too
				}
				last = doc
				for _, name := range fl.Names {
					out[name.Name] = doc
				}
			}
			return false
		})
	}
	g.docs[id] = out
	return out, nil
}
