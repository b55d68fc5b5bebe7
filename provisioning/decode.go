package provisioning

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/onair-gateway/onair/conf"
)

// Syntax names a config document's encoding.
type Syntax int

// Syntaxes.
const (
	YAML Syntax = iota
	JSON
)

// MaxDocumentSize bounds a config document; anything larger is refused
// before it is parsed (a config is a few KiB; MQTT payloads are untrusted).
const MaxDocumentSize = 256 << 10

// MaxProblems bounds the problems one document reports: past it, a last
// problem says how many more there were, so a hostile document cannot
// flood a terminal or a log with a million lines.
const MaxProblems = 100

// minExpansionBudget and expansionFactor bound the YAML nodes the decoder
// visits: at most expansionFactor times the nodes written in the document,
// and never fewer than minExpansionBudget. Aliases and << merges make a
// node count once per use, so nested merges grow tenfold per level (a
// 531-byte "merge bomb" is 10⁷ visits); a real config with a few anchors
// stays far below the bound. This is the decoder's own counterpart to
// yaml.v3's alias budget, which checks only its own decode.
const (
	minExpansionBudget = 10_000
	expansionFactor    = 10
)

// ErrInvalid marks a config that did not pass decoding or validation; the
// joined *conf.FieldError values say why, one per problem.
var ErrInvalid = errors.New("invalid config")

// Decode parses a YAML or JSON document into a validated, defaulted config.
// It reports every problem at once: unknown keys and wrong types with their
// path and line, then every invalid value. Secrets never appear in errors.
// Decoding is pure: no file, device or network is touched.
func Decode(data []byte, syn Syntax) (*Resolved, error) {
	return DecodeContext(context.Background(), data, syn)
}

// DecodeContext is Decode that stops early, returning ctx's error, when ctx
// is done (a reload that a shutdown overtakes).
func DecodeContext(ctx context.Context, data []byte, syn Syntax) (*Resolved, error) {
	if len(data) > MaxDocumentSize {
		return nil, invalid([]error{fmt.Errorf("document is %d bytes, more than %d", len(data), MaxDocumentSize)})
	}
	var cfg Config
	var errs []error
	switch syn {
	case JSON:
		errs = decodeJSON(data, &cfg)
	default:
		errs = decodeYAML(ctx, data, &cfg)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A document that does not parse, or expands past the budget, has
	// nothing to validate: report that alone, not the defaults' complaints
	// about empty fields.
	for _, e := range errs {
		if errors.Is(e, errSyntax) {
			return nil, invalid([]error{e})
		}
	}
	// Whatever decoded is defaulted and validated too, so one run names
	// every problem: unknown keys, wrong types and bad values alike.
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		errs = append(errs, conf.Flatten(err)...)
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return &Resolved{Config: cfg}, nil
}

// Load reads and decodes a config file. The file's extension picks the
// syntax (.json is JSON, anything else YAML).
func Load(path string) (*Resolved, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext is Load that stops early, returning ctx's error, when ctx is
// done.
func LoadContext(ctx context.Context, path string) (*Resolved, error) {
	data, err := conf.ReadFile(path, MaxDocumentSize)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	syn := YAML
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		syn = JSON
	}
	return DecodeContext(ctx, data, syn)
}

// invalidError carries every problem with a document.
type invalidError struct{ errs []error }

func (e *invalidError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	b.WriteString(":")
	for _, err := range e.errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *invalidError) Unwrap() []error { return append([]error{ErrInvalid}, e.errs...) }

// invalid joins a document's problems, at most MaxProblems of them and
// then one that counts the rest.
func invalid(errs []error) error {
	if n := len(errs) - MaxProblems; n > 0 {
		errs = append(errs[:MaxProblems:MaxProblems], fmt.Errorf("and %d more problems", n))
	}
	return &invalidError{errs: errs}
}

// Problems returns each problem in an error from Decode or Load, one per
// element, so a CLI can print one per line.
func Problems(err error) []error {
	var ie *invalidError
	if errors.As(err, &ie) {
		return ie.errs
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

var (
	durationType = reflect.TypeOf(conf.Duration(0))
	secretType   = reflect.TypeOf(conf.Secret(""))
)

// fieldsOf maps the config key of each field of struct type t to its field.
func fieldsOf(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		sort.Strings(names)
		return " (known: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isScalar reports whether t is decoded from a scalar rather than walked.
func isScalar(t reflect.Type) bool {
	if t == durationType || t == secretType {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Array:
		return false
	}
	return true
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as \"20ms\""
	case t == secretType:
		return "a string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// decodeYAML checks the node tree against the Config type (unknown keys,
// wrong types, each with its path and line), then decodes.
func decodeYAML(ctx context.Context, data []byte, cfg *Config) []error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty document is all defaults
		}
		return []error{syntaxError("yaml", err)}
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return []error{fmt.Errorf("yaml: more than one document in the config%w", quiet{errSyntax})}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	w := &yamlWalk{ctx: ctx, limit: max(minExpansionBudget, expansionFactor*countNodes(root))}
	w.walk(root, reflect.TypeOf(*cfg), "")
	if w.stop != nil {
		return []error{w.stop}
	}
	errs := w.errs
	// The walk found every unknown key and wrong type; decode the rest
	// leniently so validation can see it. A decode error here is one the
	// walk already reported.
	if err := root.Decode(cfg); err != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("yaml: %s", strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	return errs
}

// countNodes counts the nodes written in a document, each alias once (not
// what it points to).
func countNodes(n *yaml.Node) int {
	c := 1
	if n.Kind != yaml.AliasNode {
		for _, k := range n.Content {
			c += countNodes(k)
		}
	}
	return c
}

// yamlWalk is one check of a YAML node tree against the Config type.
type yamlWalk struct {
	ctx    context.Context
	errs   []error
	limit  int   // nodes the walk may visit, each alias and merge expanded
	n      int   // nodes visited so far
	stop   error // set when the walk gave up: over the limit, or ctx done
	fields map[reflect.Type]map[string]reflect.StructField
}

// fieldsOf is the package's fieldsOf, computed once per type per walk.
func (w *yamlWalk) fieldsOf(t reflect.Type) map[string]reflect.StructField {
	f, ok := w.fields[t]
	if !ok {
		if w.fields == nil {
			w.fields = map[reflect.Type]map[string]reflect.StructField{}
		}
		f = fieldsOf(t)
		w.fields[t] = f
	}
	return f
}

// visit spends one node of the budget; false means stop walking.
func (w *yamlWalk) visit(n *yaml.Node) bool {
	if w.stop != nil {
		return false
	}
	w.n++
	if w.n > w.limit {
		w.stop = fmt.Errorf("yaml: aliases and << merges expand the document past %d nodes (at line %d); nest fewer merges%w",
			w.limit, n.Line, quiet{errSyntax})
		return false
	}
	if w.n%1024 == 0 {
		if err := w.ctx.Err(); err != nil {
			w.stop = err
			return false
		}
	}
	return true
}

// errSyntax marks a document that does not parse at all, or that expands
// past the decoder's budget: either is reported alone.
var errSyntax = errors.New("syntax")

// syntaxError wraps a parser's error, without repeating its own prefix.
func syntaxError(lang string, err error) error {
	msg := strings.TrimPrefix(err.Error(), lang+": ")
	return fmt.Errorf("%s syntax: %s%w", lang, msg, quiet{errSyntax})
}

// quiet wraps a sentinel so it can be matched with errors.Is without
// adding to the message.
type quiet struct{ err error }

func (q quiet) Error() string { return "" }
func (q quiet) Unwrap() error { return q.err }

func (w *yamlWalk) walk(n *yaml.Node, t reflect.Type, path string) {
	if !w.visit(n) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	// bad reports a problem with n and turns n into null, so the lenient
	// decode after the walk skips it instead of stopping there (yaml.v3
	// stops the whole decode at a field whose UnmarshalYAML fails), and
	// every later problem is still found.
	bad := func(format string, args ...any) {
		w.errs = append(w.errs, conf.Errorf(path, format, args...))
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	if isScalar(t) {
		if n.Kind != yaml.ScalarNode {
			bad("expected %s (line %d)", kindName(t), n.Line)
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			if t == secretType {
				bad("expected %s (line %d)", kindName(t), n.Line)
				return
			}
			bad("%q is not %s (line %d)", n.Value, kindName(t), n.Line)
			return
		}
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
			// Range checks (x < lo || x > hi) are false for NaN: refuse
			// it here, for every number at once.
			if f := v.Elem().Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				bad("%s is not a finite number (line %d)", n.Value, n.Line)
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			// yaml.v3 truncates 1.9 to 1 for an integer field.
			if n.ShortTag() == "!!float" {
				if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != math.Trunc(f) {
					bad("%s is not a whole number (line %d)", n.Value, n.Line)
				}
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("expected a mapping (line %d)", n.Line)
			return
		}
		fields := w.fieldsOf(t)
		seen := map[string]bool{}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				w.errs = append(w.errs, conf.Errorf(path, "a key must be a plain name, not a %s (line %d)", nodeKind(k), k.Line))
				continue
			}
			if k.ShortTag() == "!!merge" {
				// << merges mappings (usually aliases) into this one;
				// their keys are checked as if written here.
				if seen["<<"] {
					w.errs = append(w.errs, conf.Errorf(conf.Join(path, "<<"), "duplicate key (line %d); merge several with <<: [*a, *b]", k.Line))
					continue
				}
				seen["<<"] = true
				kept = append(kept, k, v)
				if v.Kind == yaml.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				srcs := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					srcs = v.Content
				}
				for _, m := range srcs {
					if m.Kind == yaml.AliasNode && m.Alias != nil {
						m = m.Alias
					}
					if m.Kind != yaml.MappingNode {
						w.errs = append(w.errs, conf.Errorf(path, "<< must merge a mapping or a list of them (line %d)", k.Line))
						kept = kept[:len(kept)-2] // yaml.v3 would stop at it
						break
					}
					w.walk(m, t, path)
				}
				continue
			}
			p := conf.Join(path, conf.Key(k.Value))
			if seen[k.Value] {
				w.errs = append(w.errs, conf.Errorf(p, "duplicate key (line %d)", k.Line))
				continue
			}
			seen[k.Value] = true
			if path == "" && strings.HasPrefix(k.Value, "x-") {
				continue // an extension key: room for anchors, ignored
			}
			kept = append(kept, k, v)
			f, ok := fields[k.Value]
			if !ok {
				w.errs = append(w.errs, conf.Errorf(p, "unknown key%s (line %d)", suggest(k.Value, fields), k.Line))
				continue
			}
			w.walk(v, f.Type, p)
		}
		// The lenient decode that follows the walk stops at a duplicate
		// key and would leave the whole config empty, so validation would
		// add false complaints: decode the first occurrence only.
		if len(kept) < len(n.Content) {
			n.Content = kept
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			bad("expected a list (line %d)", n.Line)
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	default:
		w.errs = append(w.errs, conf.Errorf(path, "unsupported config type %s", t))
	}
}

// decodeJSON does for JSON what decodeYAML does for YAML (without lines).
func decodeJSON(data []byte, cfg *Config) []error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM, as YAML allows
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return []error{syntaxError("json", err)}
	}
	if dec.More() {
		return []error{fmt.Errorf("json: trailing data after the config object%w", quiet{errSyntax})}
	}
	var errs []error
	duplicateJSONKeys(json.NewDecoder(bytes.NewReader(data)), "", &errs)
	if !walkJSON(tree, reflect.TypeOf(*cfg), "", &errs) {
		return errs
	}
	// As for YAML: decode what is decodable so validation sees it too. The
	// walk dropped the values it refused, so one bad value cannot stop the
	// decode and leave the rest looking empty.
	clean, err := json.Marshal(tree)
	if err == nil {
		err = json.Unmarshal(clean, cfg)
	}
	if err != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("json: %w", err))
	}
	return errs
}

// jsonKeys maps JSON names to fields (the json tag, which matches yaml's).
func jsonKeys(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f
	}
	return m
}

// walkJSON checks a decoded JSON tree against t, as yamlWalk.walk does, and
// reports false for a value that is wrong: its parent drops it from the
// tree, so the lenient decode after the walk sees everything else.
func walkJSON(v any, t reflect.Type, path string, errs *[]error) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return true
	}
	bad := func(format string, args ...any) bool {
		*errs = append(*errs, conf.Errorf(path, format, args...))
		return false
	}
	if isScalar(t) {
		switch v.(type) {
		case map[string]any, []any:
			return bad("expected %s", kindName(t))
		}
		raw, _ := json.Marshal(v)
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			if t == secretType {
				return bad("expected %s", kindName(t))
			}
			return bad("%s is not %s", raw, kindName(t))
		}
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("expected an object")
		}
		fields := jsonKeys(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if path == "" && strings.HasPrefix(k, "x-") {
				continue // an extension key, as in YAML
			}
			p := conf.Join(path, conf.Key(k))
			f, ok := fields[k]
			if !ok {
				*errs = append(*errs, conf.Errorf(p, "unknown key%s", suggest(k, fields)))
				continue
			}
			if !walkJSON(m[k], f.Type, p, errs) {
				delete(m, k)
			}
		}
	case reflect.Slice, reflect.Array:
		a, ok := v.([]any)
		if !ok {
			return bad("expected an array")
		}
		for i, e := range a {
			if !walkJSON(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs) {
				a[i] = nil
			}
		}
	default:
		return bad("unsupported config type %s", t)
	}
	return true
}

// duplicateJSONKeys reports keys that appear twice in one JSON object, by
// path: encoding/json would silently keep the last, and a config (or an
// MQTT payload) that says two things about one key is ambiguous. The
// document has already parsed, so token errors cannot occur here.
func duplicateJSONKeys(dec *json.Decoder, path string, errs *[]error) {
	tok, err := dec.Token()
	if err != nil {
		return
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return
			}
			k, _ := kt.(string)
			p := conf.Join(path, conf.Key(k))
			if seen[k] {
				*errs = append(*errs, conf.Errorf(p, "duplicate key"))
			}
			seen[k] = true
			duplicateJSONKeys(dec, p, errs)
		}
		_, _ = dec.Token() // '}'
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			duplicateJSONKeys(dec, path+"["+strconv.Itoa(i)+"]", errs)
		}
		_, _ = dec.Token() // ']'
	}
}

// nodeKind names a YAML node's kind for errors.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}
