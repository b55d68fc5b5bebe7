package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/onair-gateway/onair/conf"
	"go.yaml.in/yaml/v3"
)

// A provisioned config is the config file with a JSON Merge Patch (RFC
// 7396) over it: what a fleet manager pushed over MQTT or the web page.
// Patches compose (ComposePatch), so the device stores one cumulative
// patch, and the running config is always MergePatch(file, stored).

// MaxPatchDepth bounds how deeply a patch may nest.
const MaxPatchDepth = 16

// MergePatch applies patch to target as RFC 7396 says: an object patch
// merges key by key, null deletes a key, anything else replaces the
// target. Neither argument is modified.
func MergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	out := make(map[string]any, len(t)+len(p))
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = MergePatch(out[k], v)
	}
	return out
}

// DiffPatch returns the smallest merge patch that turns from into to:
// MergePatch(from, DiffPatch(from, to)) equals to. The device stores the
// diff between its config file and what it runs, so a patch that deleted
// a section and a later one that set part of it again compose exactly.
// Both trees must hold only JSON values (see Tree); nil means "no
// difference" when from equals to.
func DiffPatch(from, to any) any {
	f, fok := from.(map[string]any)
	t, tok := to.(map[string]any)
	if !fok || !tok {
		if reflect.DeepEqual(from, to) {
			return nil
		}
		if !tok {
			return to
		}
		// An object replaces a non-object: every key is new.
		return to
	}
	out := map[string]any{}
	for k := range f {
		if _, ok := t[k]; !ok {
			out[k] = nil
		}
	}
	for k, tv := range t {
		fv, had := f[k]
		if !had {
			out[k] = tv
			continue
		}
		if _, isObj := tv.(map[string]any); isObj {
			if _, wasObj := fv.(map[string]any); wasObj {
				if d := DiffPatch(fv, tv); d != nil {
					out[k] = d
				}
				continue
			}
		}
		if !reflect.DeepEqual(fv, tv) {
			out[k] = tv
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// DecodePatch parses a merge patch: a JSON object, at most
// MaxDocumentSize bytes and MaxPatchDepth deep, with no duplicate keys.
// A secret given as the redacted placeholder means "keep the current
// value" and is dropped from the patch.
func DecodePatch(data []byte) (map[string]any, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("patch is %d bytes, more than %d", len(data), MaxDocumentSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("patch is not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("patch has data after its object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("patch must be a JSON object, not %s", jsonKind(v))
	}
	if d := depth(obj); d > MaxPatchDepth {
		return nil, fmt.Errorf("patch nests %d levels, more than %d", d, MaxPatchDepth)
	}
	var dups []error
	duplicateJSONKeys(json.NewDecoder(bytes.NewReader(data)), "", &dups)
	if len(dups) > 0 {
		return nil, invalid(dups)
	}
	dropRedacted(obj)
	return obj, nil
}

func dropRedacted(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case string:
			if x == conf.Redacted {
				delete(m, k)
			}
		case map[string]any:
			dropRedacted(x)
		}
	}
}

func depth(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// Tree parses a config document (YAML or JSON) into a generic tree of
// map[string]any, []any and scalars, the form patches apply to. The
// document should have passed Decode first.
func Tree(data []byte, syn Syntax) (map[string]any, error) {
	var v any
	if syn == JSON {
		dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	} else if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config is %s, not a mapping", jsonKind(v))
	}
	// One form for numbers (json.Number), whatever the syntax, so trees
	// from YAML and JSON compare equal.
	canon, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.UseNumber()
	m = nil
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	// YAML anchors live under x- keys that Decode ignores; a patch has no
	// use for them.
	for k := range m {
		if len(k) > 2 && k[:2] == "x-" {
			delete(m, k)
		}
	}
	return m, nil
}

// normalize turns YAML's map[any]any into map[string]any.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// Patched decodes the config file (data in syntax syn) with patch merged
// over it, validated as a file is. The error, like Decode's, lists every
// problem with its path.
func Patched(data []byte, syn Syntax, patch map[string]any) (*Resolved, error) {
	base, err := Tree(data, syn)
	if err != nil {
		return nil, invalid([]error{fmt.Errorf("config file: %v", err)})
	}
	merged, err := json.Marshal(MergePatch(base, patch))
	if err != nil {
		return nil, invalid([]error{fmt.Errorf("patched config: %v", err)})
	}
	return Decode(merged, JSON)
}
