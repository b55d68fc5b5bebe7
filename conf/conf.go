// Package conf holds the small value types that every subsystem's Config
// shares: secrets that never print, durations that decode from "20ms" in
// both YAML and JSON, and field errors that carry the path of the bad value.
//
// Each subsystem owns a plain Config struct with a SetDefaults method and a
// Validate method that returns every problem at once as *FieldError values
// joined with errors.Join, paths relative to the struct. The provisioning
// package prefixes them with the section path.
package conf

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Redacted is what a Secret prints instead of its value (the MQTT config
// topic's contract spells it so). A config document or patch that carries
// this literal for a secret means "keep the current value".
const Redacted = "<redacted>"

// RedactedQuery replaces a URL's query values and unparsable remainders in
// errors and logs; it needs no escaping in a URL.
const RedactedQuery = "[redacted]"

// Secret is a string that never prints: fmt, slog, JSON and YAML all see
// Redacted (or "" when it is empty). Reveal returns the value.
type Secret string

// Reveal returns the secret's value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret has a value other than the Redacted
// placeholder.
func (s Secret) IsSet() bool { return s != "" && s != Redacted }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer so %#v is redacted too.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText implements encoding.TextMarshaler, used by map keys and
// encoders that prefer text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Duration is a time.Duration that decodes from a Go duration string
// ("20ms", "1.5s") in YAML and JSON alike, and encodes back to one.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns d in Go duration syntax.
func (d Duration) String() string { return time.Duration(d).String() }

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use units, e.g. \"20ms\", \"1.5s\")", s)
	}
	return Duration(v), nil
}

// UnmarshalJSON implements json.Unmarshaler. It accepts a duration string, or
// the number 0.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if json.Unmarshal(b, &n) == nil && n == 0 {
			*d = 0
			return nil
		}
		return fmt.Errorf("%s is not a duration (use a string with units, e.g. \"20ms\")", b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration such as \"20ms\"", n.Line)
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Bool returns *p, or def when p is nil. Config fields whose default is true
// are *bool so that "absent" and "false" differ.
func Bool(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// Ptr returns a pointer to v, for filling *bool and similar defaults.
func Ptr[T any](v T) *T { return &v }

// FieldError is one problem with one config value.
type FieldError struct {
	// Path is the dotted path of the field, e.g. "audio.capture.rate".
	Path string
	// Msg says what is wrong and what is allowed; it includes the value
	// unless the field is a secret.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for path with a formatted message.
func Errorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Join returns path joined to a child path with a dot, or an index path
// ("[2]") directly.
func Join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}

// Prefix puts prefix in front of the path of every *FieldError in err (which
// may be an errors.Join tree). Other errors become FieldErrors at prefix.
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	errs := Flatten(err)
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, &FieldError{Path: Join(prefix, fe.Path), Msg: fe.Msg, Err: fe.Err})
			continue
		}
		out = append(out, &FieldError{Path: prefix, Msg: e.Error(), Err: e})
	}
	return errors.Join(out...)
}

// Flatten returns the leaves of an errors.Join tree, in order.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Printable reports whether s is valid UTF-8 with no control character or
// other non-printable rune (unicode.IsPrint; the ASCII space is allowed).
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// CheckText refuses a name, room or identity that is not Printable: such
// values are shown on terminals, in logs and on web pages, where an escape
// sequence or a newline could clear the screen or forge a line. The error
// names the field and quotes the value.
func CheckText(path, s string) error {
	if Printable(s) {
		return nil
	}
	return Errorf(path, "%q has a control or non-printable character", s)
}

// Key returns a config key for use in a path: as written when it is
// Printable, else quoted (strconv.Quote), so an unknown key cannot carry
// an escape sequence into an error message.
func Key(k string) string {
	if Printable(k) {
		return k
	}
	return strconv.Quote(k)
}
