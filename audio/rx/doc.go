// Package rx receives one remote Opus track: RTP sequence and loss
// tracking (RFC 3550 A.1), interarrival jitter (RFC 3550 §6.4.1, A.8), loss
// concealment with Opus PLC and in-band FEC (RFC 6716 §2.1.7), and placement
// of the decoded audio on the track's timeline by RTP timestamp, with
// silence for time nobody sent (DTX, a pause, a long loss).
//
// A Receiver is fed packets with their arrival times (Push) and gives back
// the audio they make, one chunk at a time (Pull): a decoded packet, a
// concealed packet, or a run of silence, each with its timeline position
// and the arrival time of the packet that brought it. Push does the
// sequence accounting at once; Pull does the decoding, so a playback clock
// (a later jitter buffer and listen unit) can pull when it needs audio.
// onairctl listen's meters pull after every push.
//
// A Jitter is the playout side: an adaptive jitter buffer driven by a
// playback clock. Push files packets by sequence number as they arrive;
// Pull, called whenever the playback device needs audio, decodes what is
// due, placed by RTP timestamp, with in-band FEC for a loss when the next
// packet is there and PLC otherwise, and silence for time nobody sent. Its
// target delay is the 95th percentile of the recent arrival delays (each
// packet's transit less the fastest), within Min..Max (40..200 ms by
// default); the current delay follows it by skipping 2.5 ms with a
// crossfade or inserting 2.5 ms of PLC per Pull.
//
// A Monitor follows the chunks of one track for a listener: it skips a cold
// decoder's warm-up for level meters (dsp.LevelMeter) and finds the timing
// marks of audio/marks to measure mouth-to-ear latency. Meters gathers one
// remote participant's figures across its tracks (a Track is a Receiver and
// a Monitor feeding them) and is safe for concurrent use; Snapshot reads
// them for a view or a summary.
//
// Receiver and Monitor are not safe for concurrent use; nothing here owns a
// goroutine; the
// caller owns the packets it pushes (Push copies the payload) and a
// chunk's samples belong to the Receiver until the next Pull. In steady
// state nothing allocates per packet or per chunk.
package rx
