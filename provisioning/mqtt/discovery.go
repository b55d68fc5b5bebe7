package mqtt

// Home Assistant device-based discovery: one retained message announces the
// device and all its entities (components). Field names are Home
// Assistant's abbreviations where it documents them.

// DiscoveryPayload is the message on <discovery prefix>/device/<id>/config.
type DiscoveryPayload struct {
	Device     DiscoveryDevice      `json:"dev"`
	Origin     DiscoveryOrigin      `json:"o"`
	Avail      string               `json:"avty_t"`
	AvailOn    string               `json:"pl_avail"`
	AvailOff   string               `json:"pl_not_avail"`
	Components map[string]Component `json:"cmps"`
}

// DiscoveryDevice is the "dev" block.
type DiscoveryDevice struct {
	IDs          []string `json:"ids"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"mf"`
	Model        string   `json:"mdl"`
	SWVersion    string   `json:"sw"`
}

// DiscoveryOrigin is the "o" block: who published the discovery.
type DiscoveryOrigin struct {
	Name      string `json:"name"`
	SWVersion string `json:"sw"`
	URL       string `json:"url"`
}

// Component is one entity.
type Component struct {
	Platform        string `json:"p"`
	UniqueID        string `json:"unique_id"`
	DefaultEntityID string `json:"default_entity_id"`
	Name            string `json:"name"`
	DeviceClass     string `json:"device_class,omitempty"`
	EntityCategory  string `json:"entity_category,omitempty"`
	Icon            string `json:"icon,omitempty"`
	StateTopic      string `json:"stat_t,omitempty"`
	ValueTemplate   string `json:"val_tpl,omitempty"`
	CommandTopic    string `json:"cmd_t,omitempty"`
	CommandTemplate string `json:"cmd_tpl,omitempty"`
	PayloadOn       string `json:"pl_on,omitempty"`
	PayloadOff      string `json:"pl_off,omitempty"`
	PayloadPress    string `json:"pl_prs,omitempty"`
	Unit            string `json:"unit_of_meas,omitempty"`
	StateClass      string `json:"stat_cla,omitempty"`
}

// Discovery builds the discovery payload for a device.
func Discovery(t Topics, info Info) DiscoveryPayload {
	id := t.ID
	slug := func(s string) string { return "onair_" + sanitizeSlug(id) + "_" + s }
	st := t.State()
	onOff := func(field string) string {
		return "{{ 'ON' if value_json." + field + " else 'OFF' }}"
	}
	cmdTpl := `{"id":"homeassistant","on":{{ 'true' if value == 'ON' else 'false' }}}`
	c := map[string]Component{
		"on_air": {Platform: "switch", UniqueID: id + "_on_air", DefaultEntityID: "switch." + slug("on_air"), Name: "On air",
			Icon: "mdi:broadcast", StateTopic: st, ValueTemplate: onOff("on_air"), CommandTopic: t.Cmd(CmdOnAir),
			CommandTemplate: cmdTpl, PayloadOn: "ON", PayloadOff: "OFF"},
		"mute": {Platform: "switch", UniqueID: id + "_mute", DefaultEntityID: "switch." + slug("mute"), Name: "Mute",
			Icon: "mdi:microphone-off", StateTopic: st, ValueTemplate: onOff("muted"), CommandTopic: t.Cmd(CmdMute),
			CommandTemplate: cmdTpl, PayloadOn: "ON", PayloadOff: "OFF"},
		"identify": {Platform: "button", UniqueID: id + "_identify", DefaultEntityID: "button." + slug("identify"), Name: "Identify",
			DeviceClass: "identify", CommandTopic: t.Cmd(CmdIdentify), PayloadPress: `{"id":"homeassistant"}`},
		"state": {Platform: "sensor", UniqueID: id + "_state", DefaultEntityID: "sensor." + slug("state"), Name: "State",
			Icon: "mdi:radio-tower", StateTopic: st, ValueTemplate: "{{ value_json.state }}"},
		"level": {Platform: "sensor", UniqueID: id + "_level", DefaultEntityID: "sensor." + slug("level"), Name: "Output level",
			Icon: "mdi:volume-high", StateTopic: st, ValueTemplate: "{{ value_json.out_level.rms_dbfs | round(1) }}",
			Unit: "dBFS", StateClass: "measurement"},
		"rtt": {Platform: "sensor", UniqueID: id + "_rtt", DefaultEntityID: "sensor." + slug("rtt"), Name: "Round-trip time",
			EntityCategory: "diagnostic", DeviceClass: "duration", StateTopic: st,
			ValueTemplate: "{{ (value_json.room_stats.session.rtt_ns / 1000000) | round(1) }}", Unit: "ms", StateClass: "measurement"},
		"loss": {Platform: "sensor", UniqueID: id + "_loss", DefaultEntityID: "sensor." + slug("loss"), Name: "Packet loss",
			EntityCategory: "diagnostic", Icon: "mdi:lan-disconnect", StateTopic: st,
			ValueTemplate: "{{ (value_json.room_stats.session.fraction_lost * 100) | round(1) }}", Unit: "%", StateClass: "measurement"},
	}
	if info.HasDOA {
		c["direction"] = Component{Platform: "sensor", UniqueID: id + "_direction", DefaultEntityID: "sensor." + slug("direction"),
			Name: "Talker direction", Icon: "mdi:compass", StateTopic: st, ValueTemplate: "{{ value_json.doa_deg | round(0) }}",
			Unit: "°", StateClass: "measurement"}
	}
	name := info.Name
	if name == "" {
		name = id
	}
	return DiscoveryPayload{
		Device:     DiscoveryDevice{IDs: []string{"onair_" + id}, Name: name, Manufacturer: "onair", Model: info.Board, SWVersion: info.Version},
		Origin:     DiscoveryOrigin{Name: "onair", SWVersion: info.Version, URL: "https://github.com/onair-gateway/onair"},
		Avail:      t.Status(),
		AvailOn:    Online,
		AvailOff:   Offline,
		Components: c,
	}
}

// sanitizeSlug keeps what Home Assistant allows in an object id.
func sanitizeSlug(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
