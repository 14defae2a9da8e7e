#include "metrics.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIELDS 32

static struct {
	const char *program;
	char path[4096];
	double start_ms;
	uint64_t in, out;
	int finished;
	int nf;
	struct {
		char key[48];
		int is_str;     /* 1 a string, 2 raw JSON */
		int64_t i;
		char s[512];
	} f[MAX_FIELDS];
} m;

double vr_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

long vr_peak_rss_kb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

void vr_metrics_start(const char *program, const char *path)
{
	m.program = program;
	m.start_ms = vr_now_ms();
	if (!path)
		path = getenv("VR_METRICS");
	snprintf(m.path, sizeof m.path, "%s", path ? path : "");
}

const char *vr_metrics_path(void) { return m.path; }

void vr_metrics_bytes_in(uint64_t n) { m.in += n; }
void vr_metrics_bytes_out(uint64_t n) { m.out += n; }
void vr_metrics_set_bytes_out(uint64_t n) { m.out = n; }
uint64_t vr_metrics_get_bytes_out(void) { return m.out; }

static int slot(const char *key)
{
	for (int i = 0; i < m.nf; i++)
		if (!strcmp(m.f[i].key, key))
			return i;
	if (m.nf == MAX_FIELDS)
		return -1;
	snprintf(m.f[m.nf].key, sizeof m.f[m.nf].key, "%s", key);
	return m.nf++;
}

void vr_metrics_str(const char *key, const char *value)
{
	int i = slot(key);
	if (i < 0)
		return;
	m.f[i].is_str = 1;
	snprintf(m.f[i].s, sizeof m.f[i].s, "%s", value ? value : "");
}

void vr_metrics_raw(const char *key, const char *json)
{
	int i = slot(key);
	if (i < 0)
		return;
	m.f[i].is_str = 2;
	if (!json || strlen(json) >= sizeof m.f[i].s)
		json = "null";
	snprintf(m.f[i].s, sizeof m.f[i].s, "%s", json);
}

void vr_metrics_int(const char *key, int64_t value)
{
	int i = slot(key);
	if (i < 0)
		return;
	m.f[i].is_str = 0;
	m.f[i].i = value;
}

void vr_metrics_finish(int exit_status)
{
	if (m.finished || !m.path[0])
		return;
	m.finished = 1;
	static struct vr_json j;
	vr_json_begin(&j);
	vr_json_str(&j, "program", m.program ? m.program : vr_prog());
	vr_json_uint(&j, "bytes_in", m.in);
	vr_json_uint(&j, "bytes_out", m.out);
	vr_json_int(&j, "wall_ms", (int64_t)(vr_now_ms() - m.start_ms));
	vr_json_int(&j, "peak_rss_kb", vr_peak_rss_kb());
	vr_json_int(&j, "open_streams", vr_streams_open());
	for (int i = 0; i < m.nf; i++) {
		if (m.f[i].is_str == 2)
			vr_json_raw(&j, m.f[i].key, m.f[i].s);
		else if (m.f[i].is_str)
			vr_json_str(&j, m.f[i].key, m.f[i].s);
		else
			vr_json_int(&j, m.f[i].key, m.f[i].i);
	}
	int sig = vr_stop_requested();
	vr_json_int(&j, "exit", sig ? 128 + sig : exit_status);
	vr_json_end(&j);
	if (j.len + 1 < sizeof j.buf)
		j.buf[j.len++] = '\n';
	int fd = open(m.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		vr_warn("metrics %s: cannot open: %m", m.path);
		return;
	}
	if (write(fd, j.buf, j.len) != (ssize_t)j.len)
		vr_warn("metrics %s: short write", m.path);
	close(fd);
}
