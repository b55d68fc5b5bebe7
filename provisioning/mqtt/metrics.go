package mqtt

import "github.com/prometheus/client_golang/prometheus"

// collector exports an Agent's Stats on each scrape.
type collector struct {
	a     *Agent
	descs []*prometheus.Desc
}

var metricNames = []struct {
	name, help string
	gauge      bool
	get        func(Stats) float64
}{
	{"onair_mqtt_connected", "1 while the device is connected to its MQTT broker.", true, func(s Stats) float64 { return b2f(s.Connected) }},
	{"onair_mqtt_connects_total", "Connections to the MQTT broker made (the first and every reconnect).", false, func(s Stats) float64 { return float64(s.Connects) }},
	{"onair_mqtt_connection_lost_total", "Connections to the MQTT broker lost.", false, func(s Stats) float64 { return float64(s.ConnectionLost) }},
	{"onair_mqtt_received_total", "MQTT messages received.", false, func(s Stats) float64 { return float64(s.Received) }},
	{"onair_mqtt_ignored_total", "MQTT messages ignored: not for a topic the device knows.", false, func(s Stats) float64 { return float64(s.Ignored) }},
	{"onair_mqtt_dropped_total", "MQTT requests dropped because too many were queued (each got a 'busy' result when it could).", false, func(s Stats) float64 { return float64(s.Dropped) }},
	{"onair_mqtt_config_sets_total", "Config patches received over MQTT.", false, func(s Stats) float64 { return float64(s.ConfigSets) }},
	{"onair_mqtt_config_rejected_total", "Config patches rejected (invalid, stale, or failed to apply).", false, func(s Stats) float64 { return float64(s.ConfigRejected) }},
	{"onair_mqtt_commands_total", "Commands received over MQTT.", false, func(s Stats) float64 { return float64(s.Commands) }},
	{"onair_mqtt_commands_failed_total", "Commands over MQTT that failed.", false, func(s Stats) float64 { return float64(s.CommandsFailed) }},
	{"onair_mqtt_state_publishes_total", "State messages published.", false, func(s Stats) float64 { return float64(s.StatePublishes) }},
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collector returns a Prometheus collector of the agent's counters.
func (a *Agent) Collector() prometheus.Collector {
	c := &collector{a: a}
	for _, m := range metricNames {
		c.descs = append(c.descs, prometheus.NewDesc(m.name, m.help, nil, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Stats()
	for i, m := range metricNames {
		t := prometheus.CounterValue
		if m.gauge {
			t = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[i], t, m.get(s))
	}
}
