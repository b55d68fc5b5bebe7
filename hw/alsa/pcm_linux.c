//go:build linux && cgo

// The C half of hw/alsa. Each exported function is one cgo call: open and
// configure a PCM, move one period, wake a blocked transfer, close.
//
// Blocking: the PCM is opened non-blocking, and a transfer that would block
// waits in poll(2) on the PCM's descriptors plus an eventfd. onair_pcm_wake
// makes the eventfd readable for good, so any wait then returns -ECANCELED
// at once: that is how Close unblocks a pending read or write without
// touching the PCM from a second thread.

#include "pcm_linux.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

// A transfer that needs more recoveries than this in a row gives up: the
// device fails again as soon as it restarts.
#define ONAIR_MAX_RECOVERIES 16

struct onair_pcm {
	snd_pcm_t *pcm;
	int stream;
	int wakefd;
	int npfd;
	struct pollfd *pfd;        // npfd PCM descriptors, then the eventfd
	size_t frame_bytes;
	unsigned int rate;
	snd_pcm_uframes_t buffer;
	int stall_ms;              // no progress for this long: the device is stuck
	int nap_ms;                // pause after a readiness that moved nothing
};

// libasound reports details through a process-wide handler; ours appends
// them to a per-thread buffer that onair_pcm_open copies into its result, so
// the messages reach the Go error instead of stderr.
static __thread char onair_msg[256];

static void onair_error_handler(const char *file, int line, const char *function,
				int err, const char *fmt, ...)
{
	size_t n = strlen(onair_msg);
	va_list ap;

	(void)file;
	(void)line;
	(void)function;
	(void)err;
	if (n > 0 && n + 3 < sizeof onair_msg) {
		memcpy(onair_msg + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= sizeof onair_msg)
		return;
	va_start(ap, fmt);
	vsnprintf(onair_msg + n, sizeof onair_msg - n, fmt, ap);
	va_end(ap);
}

static unsigned int ms_of(snd_pcm_uframes_t frames, unsigned int rate)
{
	return rate ? (unsigned int)((unsigned long long)frames * 1000 / rate) : 0;
}

#define FAIL(step, code) do { a->failed = (step); a->err = (code); goto fail; } while (0)

onair_pcm *onair_pcm_open(const char *name, onair_open_args *a)
{
	snd_pcm_t *pcm = NULL;
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	onair_pcm *h = NULL;
	snd_pcm_uframes_t period, buffer, start;
	int e, dir;

	snd_lib_error_set_handler(onair_error_handler);
	onair_msg[0] = 0;
	a->failed = ONAIR_STEP_NONE;
	a->err = 0;
	a->msg[0] = 0;
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);

	e = snd_pcm_open(&pcm, name, a->stream, SND_PCM_NONBLOCK);
	if (e < 0) {
		pcm = NULL;
		FAIL(ONAIR_STEP_OPEN, e);
	}
	snprintf(a->type, sizeof a->type, "%s", snd_pcm_type_name(snd_pcm_type(pcm)));

	e = snd_pcm_hw_params_any(pcm, hw);
	if (e < 0)
		FAIL(ONAIR_STEP_ANY, e);
	e = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED);
	if (e < 0)
		FAIL(ONAIR_STEP_ACCESS, e);
	// No sample rate conversion inside libasound: a device that cannot run
	// at the asked rate is refused with the rates it offers.
	snd_pcm_hw_params_set_rate_resample(pcm, hw, 0);

	e = snd_pcm_hw_params_set_format(pcm, hw, (snd_pcm_format_t)a->format);
	if (e < 0) {
		snd_pcm_format_mask_t *m;
		snd_pcm_format_mask_alloca(&m);
		snd_pcm_hw_params_get_format_mask(hw, m);
		for (int f = 0; f <= SND_PCM_FORMAT_LAST && f < 64; f++)
			if (snd_pcm_format_mask_test(m, (snd_pcm_format_t)f))
				a->formats |= 1ULL << f;
		FAIL(ONAIR_STEP_FORMAT, e);
	}
	e = snd_pcm_hw_params_set_channels(pcm, hw, a->channels);
	if (e < 0) {
		snd_pcm_hw_params_get_channels_min(hw, &a->min);
		snd_pcm_hw_params_get_channels_max(hw, &a->max);
		FAIL(ONAIR_STEP_CHANNELS, e);
	}
	e = snd_pcm_hw_params_set_rate(pcm, hw, a->rate, 0);
	if (e < 0) {
		// Interval ends may be open: (16000, 16001) means 16000 only.
		snd_pcm_hw_params_get_rate_min(hw, &a->min, &dir);
		if (dir > 0)
			a->min++;
		snd_pcm_hw_params_get_rate_max(hw, &a->max, &dir);
		if (dir < 0)
			a->max--;
		FAIL(ONAIR_STEP_RATE, e);
	}
	period = a->period;
	dir = 0;
	e = snd_pcm_hw_params_set_period_size_near(pcm, hw, &period, &dir);
	if (e < 0) {
		snd_pcm_uframes_t lo = 0, hi = 0;
		snd_pcm_hw_params_get_period_size_min(hw, &lo, &dir);
		snd_pcm_hw_params_get_period_size_max(hw, &hi, &dir);
		a->min = (unsigned int)lo;
		a->max = (unsigned int)hi;
		FAIL(ONAIR_STEP_PERIOD, e);
	}
	buffer = a->buffer;
	e = snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer);
	if (e < 0) {
		snd_pcm_uframes_t lo = 0, hi = 0;
		snd_pcm_hw_params_get_buffer_size_min(hw, &lo);
		snd_pcm_hw_params_get_buffer_size_max(hw, &hi);
		a->min = (unsigned int)lo;
		a->max = (unsigned int)hi;
		FAIL(ONAIR_STEP_BUFFER, e);
	}
	e = snd_pcm_hw_params(pcm, hw);
	if (e < 0)
		FAIL(ONAIR_STEP_HW_PARAMS, e);
	snd_pcm_hw_params_get_period_size(hw, &period, &dir);
	snd_pcm_hw_params_get_buffer_size(hw, &buffer);
	a->period_out = period;
	a->buffer_out = buffer;

	// Wake up once a period is ready. Capture starts on the first read;
	// playback once two periods are queued, so one late write does not
	// underrun at once.
	start = a->stream == SND_PCM_STREAM_CAPTURE ? 1 : 2 * period;
	if (start > buffer)
		start = buffer;
	for (int with_tstamp = 1; with_tstamp >= 0; with_tstamp--) {
		e = snd_pcm_sw_params_current(pcm, sw);
		if (e < 0)
			FAIL(ONAIR_STEP_SW_PARAMS, e);
		snd_pcm_sw_params_set_avail_min(pcm, sw, period);
		snd_pcm_sw_params_set_start_threshold(pcm, sw, start);
		snd_pcm_sw_params_set_stop_threshold(pcm, sw, buffer);
		if (with_tstamp) {
			// Monotonic timestamps measure how long an xrun lasted.
			snd_pcm_sw_params_set_tstamp_mode(pcm, sw, SND_PCM_TSTAMP_ENABLE);
			snd_pcm_sw_params_set_tstamp_type(pcm, sw, SND_PCM_TSTAMP_TYPE_MONOTONIC);
		}
		e = snd_pcm_sw_params(pcm, sw);
		if (e >= 0)
			break;
	}
	if (e < 0)
		FAIL(ONAIR_STEP_SW_PARAMS, e);

	h = calloc(1, sizeof *h);
	if (h == NULL)
		FAIL(ONAIR_STEP_NOMEM, -ENOMEM);
	h->pcm = pcm;
	h->stream = a->stream;
	h->wakefd = -1;
	h->frame_bytes = (size_t)snd_pcm_frames_to_bytes(pcm, 1);
	h->rate = a->rate;
	h->buffer = buffer;
	h->stall_ms = 10 * ms_of(buffer, a->rate);
	if (h->stall_ms < 2000)
		h->stall_ms = 2000;
	h->nap_ms = ms_of(period, a->rate) / 4;
	if (h->nap_ms < 1)
		h->nap_ms = 1;

	e = snd_pcm_poll_descriptors_count(pcm);
	if (e <= 0)
		FAIL(ONAIR_STEP_POLL, e < 0 ? e : -EINVAL);
	h->npfd = e;
	h->pfd = calloc((size_t)h->npfd + 1, sizeof *h->pfd);
	if (h->pfd == NULL)
		FAIL(ONAIR_STEP_NOMEM, -ENOMEM);
	e = snd_pcm_poll_descriptors(pcm, h->pfd, (unsigned int)h->npfd);
	if (e < 0)
		FAIL(ONAIR_STEP_POLL, e);
	h->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->wakefd < 0)
		FAIL(ONAIR_STEP_EVENTFD, -errno);
	h->pfd[h->npfd].fd = h->wakefd;
	h->pfd[h->npfd].events = POLLIN;
	return h;

fail:
	snprintf(a->msg, sizeof a->msg, "%s", onair_msg);
	if (h != NULL) {
		if (h->wakefd >= 0)
			close(h->wakefd);
		free(h->pfd);
		free(h);
	}
	if (pcm != NULL)
		snd_pcm_close(pcm);
	return NULL;
}

// onair_wait blocks until the PCM is ready, Close wakes it (-ECANCELED), or
// nothing happens for stall_ms (-ETIMEDOUT). With nap set (the last
// readiness moved nothing, as with plugins whose descriptor is always
// ready) it only sleeps nap_ms, still waking for Close.
static int onair_wait(onair_pcm *h, int nap)
{
	struct pollfd *wake = &h->pfd[h->npfd];

	for (;;) {
		unsigned short rev = 0;
		int r, e;

		if (nap)
			r = poll(wake, 1, h->nap_ms);
		else
			r = poll(h->pfd, (nfds_t)h->npfd + 1, h->stall_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (wake->revents & POLLIN)
			return -ECANCELED;
		if (r == 0)
			return nap ? 0 : -ETIMEDOUT;
		e = snd_pcm_poll_descriptors_revents(h->pcm, h->pfd, (unsigned int)h->npfd, &rev);
		if (e < 0)
			return e;
		if (rev & (POLLERR | POLLNVAL)) {
			switch (snd_pcm_state(h->pcm)) {
			case SND_PCM_STATE_XRUN:
			case SND_PCM_STATE_SUSPENDED:
			case SND_PCM_STATE_PREPARED:
			case SND_PCM_STATE_RUNNING:
				return 0; // the next transfer reports or clears it
			case SND_PCM_STATE_DISCONNECTED:
				return -ENODEV;
			default:
				return -EBADFD;
			}
		}
		if (rev & (POLLIN | POLLOUT))
			return 0;
	}
}

// onair_lost estimates the capture frames an xrun cost: what sat in the
// buffer (prepare discards it) plus the time the stream stood stopped,
// from the trigger timestamp the kernel took when it stopped.
static long long onair_lost(onair_pcm *h)
{
	snd_pcm_status_t *st;
	snd_htimestamp_t trig, now;
	long long lost;

	snd_pcm_status_alloca(&st);
	if (snd_pcm_status(h->pcm, st) < 0)
		return (long long)h->buffer;
	lost = (long long)snd_pcm_status_get_avail(st);
	snd_pcm_status_get_trigger_htstamp(st, &trig);
	snd_pcm_status_get_htstamp(st, &now);
	if (trig.tv_sec != 0 || trig.tv_nsec != 0) {
		long long ns = (long long)(now.tv_sec - trig.tv_sec) * 1000000000LL +
			       (now.tv_nsec - trig.tv_nsec);
		if (ns > 0 && ns < 60LL * 1000000000LL)
			lost += ns * (long long)h->rate / 1000000000LL;
	}
	if (lost < 0)
		lost = 0;
	return lost;
}

// onair_recover restarts the stream after an xrun (-EPIPE) or a suspend
// (-ESTRPIPE). Waiting for a resume stays interruptible by Close.
static int onair_recover(onair_pcm *h, int err)
{
	int e;

	if (err == -ESTRPIPE) {
		struct pollfd *wake = &h->pfd[h->npfd];
		while ((e = snd_pcm_resume(h->pcm)) == -EAGAIN) {
			if (poll(wake, 1, 100) > 0 && (wake->revents & POLLIN))
				return -ECANCELED;
		}
		if (e >= 0)
			return 0;
	}
	e = snd_pcm_recover(h->pcm, -EPIPE, 1); // prepares the stream again
	if (e < 0)
		return e;
	if (h->stream == SND_PCM_STREAM_CAPTURE)
		return snd_pcm_start(h->pcm);
	return 0;
}

// onair_idle handles a read or write that moved nothing (0 or -EAGAIN):
// it waits for the device, or, when the last wait was followed by no
// progress either (*nap set), sleeps instead of spinning, and gives up with
// -ETIMEDOUT once the device has stalled for stall_ms. It returns 0 to try
// again or a negative errno to stop.
static int onair_idle(onair_pcm *h, int *nap, int *naps)
{
	int e;

	if (*nap && (long)++*naps * h->nap_ms >= h->stall_ms)
		return -ETIMEDOUT;
	e = onair_wait(h, *nap);
	if (e < 0)
		return e;
	*nap = 1; // if the next call moves nothing, sleep instead of spin
	return 0;
}

void onair_pcm_read(onair_pcm *h, void *buf, long frames, onair_io *io)
{
	char *p = buf;
	long got = 0;
	int nap = 0, naps = 0;

	io->frames = 0;
	io->err = 0;
	io->xruns = 0;
	io->lost = 0;
	if (snd_pcm_state(h->pcm) == SND_PCM_STATE_PREPARED)
		snd_pcm_start(h->pcm); // an error shows up in the read below
	while (got < frames) {
		snd_pcm_sframes_t n = snd_pcm_readi(h->pcm, p + (size_t)got * h->frame_bytes,
						    (snd_pcm_uframes_t)(frames - got));
		if (n > 0) {
			got += n;
			nap = naps = 0;
			continue;
		}
		if (n == 0 || n == -EAGAIN) {
			int e = onair_idle(h, &nap, &naps);
			if (e < 0) {
				io->err = e;
				break;
			}
			continue;
		}
		if (n == -EPIPE || n == -ESTRPIPE) {
			// The partial period is dropped with the rest: the next
			// frame starts after the gap, and lost says how long it was.
			long long lost = onair_lost(h) + got;
			int e = onair_recover(h, (int)n);
			if (e < 0) {
				io->err = e;
				break;
			}
			if (++io->xruns > ONAIR_MAX_RECOVERIES) {
				io->err = -EIO;
				break;
			}
			io->lost += lost;
			got = 0;
			continue;
		}
		io->err = (int)n;
		break;
	}
	io->frames = got;
}

void onair_pcm_write(onair_pcm *h, const void *buf, long frames, onair_io *io)
{
	const char *p = buf;
	long put = 0;
	int nap = 0, naps = 0;

	io->frames = 0;
	io->err = 0;
	io->xruns = 0;
	io->lost = 0;
	while (put < frames) {
		snd_pcm_sframes_t n = snd_pcm_writei(h->pcm, p + (size_t)put * h->frame_bytes,
						     (snd_pcm_uframes_t)(frames - put));
		if (n > 0) {
			put += n;
			nap = naps = 0;
			continue;
		}
		if (n == 0 || n == -EAGAIN) {
			int e = onair_idle(h, &nap, &naps);
			if (e < 0) {
				io->err = e;
				break;
			}
			continue;
		}
		if (n == -EPIPE || n == -ESTRPIPE) {
			int e = onair_recover(h, (int)n);
			if (e < 0) {
				io->err = e;
				break;
			}
			if (++io->xruns > ONAIR_MAX_RECOVERIES) {
				io->err = -EIO;
				break;
			}
			continue;
		}
		io->err = (int)n;
		break;
	}
	io->frames = put;
}

int onair_pcm_wake(onair_pcm *h)
{
	uint64_t one = 1;

	if (write(h->wakefd, &one, sizeof one) != (ssize_t)sizeof one)
		return -errno;
	return 0;
}

void onair_pcm_close(onair_pcm *h)
{
	if (h == NULL)
		return;
	snd_pcm_close(h->pcm);
	close(h->wakefd);
	free(h->pfd);
	free(h);
}
