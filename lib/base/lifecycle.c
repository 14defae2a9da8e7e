#include "lifecycle.h"
#include "log.h"
#include "status.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PATHS 64 /* outputs and spool files in flight: one or two per job */

static volatile sig_atomic_t stop_signal;
/* A slot of the path table: FREE, CLAIMED (a thread is writing its path)
 * or ARMED (the signal handler and vr_exit unlink it). Slots change state
 * with atomic operations only, so that worker threads (a warm batch's
 * transforms spool and write outputs at once) never take one slot twice,
 * and the handler, which may run in any thread, sees whole paths. */
enum { SLOT_FREE, SLOT_CLAIMED, SLOT_ARMED };
static char cleanup_paths[MAX_PATHS][PATH_MAX];
static int path_state[MAX_PATHS];
static int open_streams;

static void unlink_paths(void)
{
	for (int i = 0; i < MAX_PATHS; i++) {
		int armed = SLOT_ARMED;
		if (__atomic_compare_exchange_n(&path_state[i], &armed, SLOT_CLAIMED, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			unlink(cleanup_paths[i]);
			__atomic_store_n(&path_state[i], SLOT_FREE, __ATOMIC_RELEASE);
		}
	}
}

static void on_signal(int sig)
{
	if (stop_signal) {
		/* second signal: the user means it */
		unlink_paths();
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig);
	}
	stop_signal = sig;
	unlink_paths();
	alarm(5);
}

void vr_lifecycle_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* past RLIMIT_FSIZE a write fails with EFBIG, reported as an I/O error,
	 * instead of the process dying without cleaning up */
	signal(SIGXFSZ, SIG_IGN);
}

int vr_stop_requested(void) { return stop_signal; }

int vr_cleanup_path(const char *path)
{
	if (strlen(path) >= PATH_MAX)
		return -1;
	for (int i = 0; i < MAX_PATHS; i++) {
		int free_slot = SLOT_FREE;
		if (__atomic_compare_exchange_n(&path_state[i], &free_slot, SLOT_CLAIMED, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			strcpy(cleanup_paths[i], path);
			__atomic_store_n(&path_state[i], SLOT_ARMED, __ATOMIC_RELEASE);
			return i;
		}
	}
	return -1;
}

void vr_cleanup_forget(int id)
{
	if (id >= 0 && id < MAX_PATHS)
		__atomic_store_n(&path_state[id], SLOT_FREE, __ATOMIC_RELEASE);
}

void vr_exit(int status)
{
	unlink_paths();
	int sig = stop_signal;
	if (sig) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	exit(status);
}

/* Atomic: vr-cache warm's worker threads open and close streams at once. */
void vr_stream_opened(void) { __atomic_fetch_add(&open_streams, 1, __ATOMIC_RELAXED); }
void vr_stream_closed(void) { __atomic_fetch_sub(&open_streams, 1, __ATOMIC_RELAXED); }
int vr_streams_open(void) { return __atomic_load_n(&open_streams, __ATOMIC_RELAXED); }

void vr_oom(void)
{
	vr_error("out of memory");
	vr_exit(VR_EFAIL);
}
