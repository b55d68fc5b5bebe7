package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
)

// viewFrame is what one refresh of the live view shows.
type viewFrame struct {
	room    string
	state   room.StateChange
	elapsed time.Duration
	people  []listen.Participant
}

// view draws frames: in place on a terminal, as plain lines elsewhere.
type view struct {
	w     io.Writer
	tty   bool
	lines int // lines drawn last time, to move back over
	sb    strings.Builder
}

// The level bar spans barFloor..0 dBFS in barWidth cells.
const (
	barWidth = 30
	barFloor = -60.0
)

func (v *view) draw(fr viewFrame) {
	v.sb.Reset()
	if !v.tty {
		t := fr.elapsed.Truncate(time.Second)
		if len(fr.people) == 0 {
			fmt.Fprintf(&v.sb, "t=%v room=%s state=%s no participants\n", t, fr.room, stateText(fr.state))
		}
		for _, p := range fr.people {
			fmt.Fprintf(&v.sb, "t=%v %s\n", t, plainLine(p))
		}
		_, _ = io.WriteString(v.w, v.sb.String())
		return
	}
	if v.lines > 0 {
		fmt.Fprintf(&v.sb, "\x1b[%dA", v.lines) // back to the first line
	}
	lines := 0
	line := func(format string, a ...any) {
		v.sb.WriteString("\x1b[2K") // clear the line
		fmt.Fprintf(&v.sb, format, a...)
		v.sb.WriteByte('\n')
		lines++
	}
	line("room %s  %s  %v", fr.room, stateText(fr.state), fr.elapsed.Truncate(time.Second))
	if len(fr.people) == 0 {
		line("  (nobody is publishing audio)")
	}
	for _, p := range fr.people {
		line("%s", ttyLine(p))
	}
	for i := lines; i < v.lines; i++ { // participants who left: blank their lines
		line("")
	}
	v.lines = lines
	_, _ = io.WriteString(v.w, v.sb.String())
}

func stateText(c room.StateChange) string {
	if c.State == room.StateConnected || c.Reason == "" {
		return c.State.String()
	}
	return c.State.String() + " (" + c.Reason + ")"
}

// bar renders RMS as a filled bar with the peak as a tick.
func bar(rms, peak float64) string {
	cell := func(db float64) int {
		c := int((db - barFloor) / -barFloor * barWidth)
		return max(0, min(barWidth, c))
	}
	r, p := cell(rms), cell(peak)
	if p <= r {
		return strings.Repeat("█", r) + strings.Repeat("·", barWidth-r)
	}
	return strings.Repeat("█", r) + strings.Repeat("·", p-1-r) + "|" + strings.Repeat("·", barWidth-p)
}

func ttyLine(p listen.Participant) string {
	name, lat, enc := p.Identity, "-", p.E2EE
	if !p.Active {
		name += " (gone)"
	}
	if p.Marks > 0 {
		lat = fmt.Sprintf("%.0f ms (median %.0f)", p.LatencyMs, *p.LatMedianMs)
	}
	if p.Undecryptable > 0 { // the frames that did not decrypt
		enc = fmt.Sprintf("%s (%d undecryptable)", p.E2EE, p.Undecryptable)
	}
	return fmt.Sprintf("  %-16.16s %s %6.1f dBFS pk %6.1f  %6.0f Hz  pkts %6d  lost %4d (%4.1f%%)  jit %5.1f ms  lat %s  e2ee %s",
		name, bar(p.LevelDB, p.PeakDB), p.LevelDB, p.PeakDB, p.Freq, p.Packets, p.Lost, p.LossPct, p.JitterMs, lat, enc)
}

func plainLine(p listen.Participant) string {
	lat := "-"
	if p.Marks > 0 {
		lat = fmt.Sprintf("%.1fms", p.LatencyMs)
	}
	return fmt.Sprintf("participant=%s active=%v level=%.1fdBFS peak=%.1fdBFS freq=%.0fHz packets=%d lost=%d loss=%.1f%% jitter=%.1fms latency=%s e2ee=%s undecryptable=%d",
		p.Identity, p.Active, p.LevelDB, p.PeakDB, p.Freq, p.Packets, p.Lost, p.LossPct, p.JitterMs, lat, p.E2EE, p.Undecryptable)
}
