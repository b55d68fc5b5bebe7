package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// ReadPatch reads a config patch from a file: JSON when the name ends in
// .json, YAML otherwise (converted to JSON; YAML's null, ~ and an empty
// value are JSON null, which deletes a key in a merge patch). The patch
// must be an object that fits in one request.
func ReadPatch(path string) (json.RawMessage, error) {
	data, err := conf.ReadFile(path, mqtt.MaxPayload)
	if err != nil {
		return nil, conf.Errorf("-set", "%v", err)
	}
	var patch json.RawMessage
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		patch = data
	} else if patch, err = YAMLToJSON(data); err != nil {
		return nil, conf.Errorf("-set", "%s: %v", path, err)
	}
	if err := CheckPatch(patch); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return patch, nil
}

// YAMLToJSON converts one YAML document to JSON. Mapping keys must be
// strings (a config's are); numbers that JSON cannot hold (.inf, .nan) are
// refused.
func YAMLToJSON(data []byte) (json.RawMessage, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("YAML: empty document")
	} else if err != nil {
		return nil, fmt.Errorf("YAML: %w", err)
	}
	var extra any
	if dec.Decode(&extra) == nil {
		return nil, fmt.Errorf("YAML: more than one document")
	}
	j, err := jsonValue(v, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

// jsonValue turns what yaml.v3 decodes into what encoding/json encodes.
func jsonValue(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			j, err := jsonValue(e, conf.Join(path, k))
			if err != nil {
				return nil, err
			}
			x[k] = j
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: key %v is not a string", orRoot(path), k)
			}
			j, err := jsonValue(e, conf.Join(path, ks))
			if err != nil {
				return nil, err
			}
			m[ks] = j
		}
		return m, nil
	case []any:
		for i, e := range x {
			j, err := jsonValue(e, conf.Join(path, fmt.Sprintf("[%d]", i)))
			if err != nil {
				return nil, err
			}
			x[i] = j
		}
		return x, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%s: %v is not a JSON number", orRoot(path), x)
		}
	}
	return v, nil
}

func orRoot(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}
