package opus

import "time"

// MaxPacket is an output buffer size for Encode that is always enough. An
// Opus frame is at most 1275 bytes (RFC 6716 §3.2.1) and the frames this
// package encodes (10, 20 or 40 ms) fit in at most three of them plus a few
// bytes of table of contents and lengths; 4000 is libopus's own recommended
// max_data_bytes, with margin.
const MaxPacket = 4000

// MaxPacketDuration is the longest audio one Opus packet carries (RFC 6716
// §3.2.5: up to 48 frames, at most 120 ms).
const MaxPacketDuration = 120 * time.Millisecond
