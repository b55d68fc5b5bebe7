package gateway

import (
	"reflect"
	"strings"
	"testing"
)

// leaf is a path to one settable value in a config: field names, "*" for
// a pointer's target and "[0]" for a slice's first element.
type leaf []string

func (l leaf) String() string { return strings.Join(l, ".") }

// leaves lists every leaf under v. A nil pointer or an empty slice or map
// is a leaf itself (mutate fills it).
func leaves(v reflect.Value, at leaf, out *[]leaf) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				leaves(v.Field(i), append(append(leaf(nil), at...), f.Name), out)
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			*out = append(*out, at)
			return
		}
		leaves(v.Elem(), append(append(leaf(nil), at...), "*"), out)
	case reflect.Slice:
		if v.Len() == 0 {
			*out = append(*out, at)
			return
		}
		leaves(v.Index(0), append(append(leaf(nil), at...), "[0]"), out)
	case reflect.Interface, reflect.Func, reflect.Chan:
	default:
		*out = append(*out, at)
	}
}

// mutate changes the value at l under v.
func mutate(t *testing.T, v reflect.Value, l leaf) {
	for _, s := range l {
		switch s {
		case "*":
			v = v.Elem()
		case "[0]":
			v = v.Index(0)
		default:
			v = v.FieldByName(s)
		}
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	default:
		t.Fatalf("%s: cannot mutate a %s", l, v.Kind())
	}
}

// wantChanges says which units a change at a config path restarts. The
// rules are by section; a field added to a section is covered by its
// section's rule without anyone listing it here or in views.go.
func wantChanges(path string) changes {
	has := func(p string) bool { return path == p || strings.HasPrefix(path, p+".") }
	switch {
	case has("Device.Name"):
		return changes{room: true}
	case has("Device"), has("Board.Sim.Keyboard"), has("MQTT"), has("HTTP"):
		return changes{} // read at start or by the status only
	case has("Board.Sim.Script"), has("Controls"):
		return changes{controls: true}
	case has("Audio.Playback.Enabled"):
		return changes{room: true, listen: true} // the room subscribes only to play
	case has("Audio.Playback"):
		return changes{listen: true}
	case has("Board.Profile"), has("Board.Sim"):
		return changes{speak: true, listen: true} // the simulated speaker is the board's
	case has("Board"), has("Audio"):
		return changes{speak: true}
	case has("Opus.Bitrate"), has("Opus.PacketLoss"):
		return changes{encoder: true}
	case has("Opus.DTX"):
		return changes{encoder: true, room: true}
	case has("Opus.Channels"):
		return changes{speak: true, room: true}
	case has("Opus"):
		return changes{speak: true}
	case has("Room"), has("E2EE"):
		return changes{room: true}
	}
	return changes{speak: true, room: true, controls: true, encoder: true} // unreachable for a known section
}

// TestViewsRestartExactlyTheirUnit changes every field of the config, one
// at a time, and checks that exactly the units whose view holds it restart.
func TestViewsRestartExactlyTheirUnit(t *testing.T) {
	const doc = simDoc + `
controls:
  buttons: [{name: ptt, pin: GPIO17, mode: ptt}]
  leds: [{pin: GPIO22, role: tally}]
  ring: {spi: SPI0.0, leds: 12, power_pin: GPIO5}
e2ee: {passphrase: a-long-enough-passphrase}
`
	base := resolve(t, doc)
	if p := plan(base, resolve(t, doc)); p != (changes{}) {
		t.Fatalf("an unchanged config plans %+v", p)
	}
	var all []leaf
	leaves(reflect.ValueOf(base.Config), nil, &all)
	if len(all) < 50 {
		t.Fatalf("only %d leaves found in the config", len(all))
	}
	t.Logf("%d leaves", len(all))
	for _, l := range all {
		nu := resolve(t, doc)
		mutate(t, reflect.ValueOf(&nu.Config).Elem(), l)
		got, want := plan(base, nu), wantChanges(l.String())
		if got != want {
			t.Errorf("changing %s plans %+v, want %+v", l, got, want)
		}
	}
}

// TestViewConfigHoldsTheView: a unit built from a view sees the view's
// fields and nothing else of the config.
func TestViewConfigHoldsTheView(t *testing.T) {
	r := resolve(t, simDoc)
	if v := speakViewOf(r); !reflect.DeepEqual(speakViewOf(v.config()), v) {
		t.Error("speak view does not survive config()")
	}
	if v := roomViewOf(r); !reflect.DeepEqual(roomViewOf(v.config()), v) {
		t.Error("room view does not survive config()")
	}
	if v := controlsViewOf(r); !reflect.DeepEqual(controlsViewOf(v.config()), v) {
		t.Error("controls view does not survive config()")
	}
	if v := listenViewOf(r); !reflect.DeepEqual(listenViewOf(v.config()), v) {
		t.Error("listen view does not survive config()")
	}
	if c := speakViewOf(r).config(); c.Room.Room != "" || c.Controls != nil || c.Device.ID != "" {
		t.Error("the speak unit's config carries fields of other units")
	}
}
