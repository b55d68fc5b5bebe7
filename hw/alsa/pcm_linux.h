// The C half of hw/alsa: one call opens and configures a PCM, one call moves
// one period in or out. Go owns the buffers; C owns the onair_pcm handle.

#ifndef ONAIR_PCM_LINUX_H
#define ONAIR_PCM_LINUX_H

#include <alsa/asoundlib.h>

// Which step of onair_pcm_open failed (onair_open_args.failed).
enum {
	ONAIR_STEP_NONE = 0,
	ONAIR_STEP_OPEN,
	ONAIR_STEP_ANY,
	ONAIR_STEP_ACCESS,
	ONAIR_STEP_FORMAT,
	ONAIR_STEP_CHANNELS,
	ONAIR_STEP_RATE,
	ONAIR_STEP_PERIOD,
	ONAIR_STEP_BUFFER,
	ONAIR_STEP_HW_PARAMS,
	ONAIR_STEP_SW_PARAMS,
	ONAIR_STEP_POLL,
	ONAIR_STEP_EVENTFD,
	ONAIR_STEP_NOMEM,
};

// onair_open_args carries what Go asks for in, and what the device
// negotiated (or why it refused) out.
typedef struct {
	// In.
	int stream;             // SND_PCM_STREAM_CAPTURE or _PLAYBACK
	int format;             // snd_pcm_format_t
	unsigned int channels;
	unsigned int rate;
	unsigned long period;   // frames
	unsigned long buffer;   // frames

	// Out, on success.
	unsigned long period_out;
	unsigned long buffer_out;
	char type[32];          // snd_pcm_type_name, e.g. "HW", "FILE"

	// Out, on failure.
	int err;                // negative errno
	int failed;             // ONAIR_STEP_*
	unsigned int min, max;  // what the device offers for the failed step
	unsigned long long formats; // offered formats, bit n = snd_pcm_format_t n
	char msg[256];          // libasound's own messages during the call
} onair_open_args;

// onair_io reports one period's transfer.
typedef struct {
	long frames;            // frames transferred
	int err;                // 0, or a negative errno that ended the call
	int xruns;              // xruns (or suspends) recovered during the call
	long long lost;         // capture: frames lost to those xruns
} onair_io;

typedef struct onair_pcm onair_pcm;

onair_pcm *onair_pcm_open(const char *name, onair_open_args *a);
void onair_pcm_read(onair_pcm *h, void *buf, long frames, onair_io *io);
void onair_pcm_write(onair_pcm *h, const void *buf, long frames, onair_io *io);
int onair_pcm_wake(onair_pcm *h);
void onair_pcm_close(onair_pcm *h);

#endif
