#include "progress.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char *vr_progress_bytes(char *buf, size_t cap, uint64_t bytes)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, cap, "%.1f %s", v, unit[u]);
	return buf;
}

static void clock_text(char *buf, size_t cap, double s)
{
	if (s < 0 || s > 99 * 3600.0) {
		snprintf(buf, cap, "--:--");
		return;
	}
	unsigned long t = (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

/* The line, without "\r" or newline, at most width columns (>= 20);
 * returns its length. */
static size_t progress_format(char *buf, size_t cap, const struct vr_progress *p, int width)
{
	char counts[160], tail[96], sz[32], eta[24];
	double rate = p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0;
	if (width < 20)
		width = 20;
	if (cap == 0)
		return 0;
	vr_progress_bytes(sz, sizeof sz, p->bytes);
	snprintf(counts, sizeof counts, "hit %llu miss %llu coalesced %llu fail %llu",
		 (unsigned long long)p->hits, (unsigned long long)p->misses,
		 (unsigned long long)p->coalesced, (unsigned long long)p->failed);
	if (p->total) {
		double left = p->total > p->done ? (double)(p->total - p->done) : 0;
		clock_text(eta, sizeof eta, rate > 0 ? left / rate : -1);
		snprintf(tail, sizeof tail, "%s  %.1f/s  ETA %s", sz, rate, eta);
	} else {
		clock_text(eta, sizeof eta, p->elapsed_s);
		snprintf(tail, sizeof tail, "%s  %.1f/s  %s", sz, rate, eta);
	}
	char head[64];
	if (p->total)
		snprintf(head, sizeof head, "%3d%%  %llu/%llu",
			 (int)(p->done >= p->total ? 100 : 100.0 * (double)p->done / (double)p->total),
			 (unsigned long long)p->done, (unsigned long long)p->total);
	else
		snprintf(head, sizeof head, "%llu done", (unsigned long long)p->done);
	char jobs[24] = "";
	if (p->concurrency > 0)
		snprintf(jobs, sizeof jobs, "  x%d", p->concurrency);

	char line[512];
	int n = snprintf(line, sizeof line, "%s  %s  %s%s", head, counts, tail, jobs);
	if (n < 0)
		n = 0;
	size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
	/* a bar in front when the total is known and the terminal is wide
	 * enough for it and any counts (decided by width alone, so that the
	 * bar does not come and go as the numbers grow) */
	int barw = width >= 120 ? 24 : 0;
	size_t o = 0;
	char out[600];
	if (p->total && barw >= 10) {
		int fill = (int)(p->done >= p->total ? barw
						     : (double)barw * (double)p->done / (double)p->total);
		out[o++] = '[';
		for (int i = 0; i < barw; i++)
			out[o++] = i < fill ? '#' : '-';
		out[o++] = ']';
		out[o++] = ' ';
	}
	memcpy(out + o, line, len);
	o += len;
	if (o > (size_t)width)
		o = (size_t)width;
	if (o >= cap)
		o = cap - 1;
	memcpy(buf, out, o);
	buf[o] = '\0';
	return o;
}

static int term_width(int fd)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col - 1;
	return 79;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void vr_progress_draw(int fd, const struct vr_progress *p)
{
	char line[640];
	line[0] = '\r';
	size_t n = 1 + progress_format(line + 1, sizeof line - 8, p, term_width(fd));
	memcpy(line + n, "\033[K", 3);
	write_all(fd, line, n + 3);
}

void vr_progress_clear(int fd)
{
	write_all(fd, "\r\033[K", 4);
}

const char *vr_progress_transfer_text(char *buf, size_t cap, uint64_t bytes, int64_t total,
				      double elapsed_s)
{
	char got[32], all[32], rate[32], eta[24];
	double r = elapsed_s > 0 ? (double)bytes / elapsed_s : 0;
	vr_progress_bytes(got, sizeof got, bytes);
	vr_progress_bytes(rate, sizeof rate, (uint64_t)r);
	if (total < 0) {
		snprintf(buf, cap, "%s  %s/s", got, rate);
		return buf;
	}
	uint64_t t = (uint64_t)total;
	double left = t > bytes ? (double)(t - bytes) : 0;
	clock_text(eta, sizeof eta, left == 0 ? 0 : r > 0 ? left / r : -1);
	vr_progress_bytes(all, sizeof all, t);
	snprintf(buf, cap, "%3d%%  %s of %s  %s/s  ETA %s",
		 (int)(t == 0 || bytes >= t ? 100 : 100.0 * (double)bytes / (double)t), got, all,
		 rate, eta);
	return buf;
}

void vr_progress_line(int fd, const char *text)
{
	char line[640];
	int tty = isatty(fd);
	int n = snprintf(line, sizeof line, "%s%s: %s%s", tty ? "\r" : "", vr_prog(), text,
			 tty ? "\033[K" : "\n");
	if (n < 0)
		return;
	write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void vr_progress_line_end(int fd)
{
	if (isatty(fd))
		write_all(fd, "\n", 1);
}
