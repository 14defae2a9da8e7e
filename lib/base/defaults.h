/* One home for defaults: every default a user can see (in --help, a man
 * page or a config) is written here once. They are strings because the
 * option tables parse them like an argument (cli.h, vr_opt.def); code that
 * needs a number parses the same string or uses the option's field. */
#ifndef VR_DEFAULTS_H
#define VR_DEFAULTS_H

#define VR_DEFAULT_MAX_BUFFER "64M"     /* vr-range --max-buffer */
#define VR_DEFAULT_STALL_TIMEOUT "30"   /* vr-resize, vr-cache get --timeout (seconds) */
#define VR_DEFAULT_CHUNK_SIZE "1M"      /* vr-chunk put --chunk-size */
#define VR_DEFAULT_PUT_WAIT "30"        /* vr-chunk put --wait (seconds) */
/* a source's idle/connect timeout and retries when neither the command
 * line nor the config ([origin], [fetch]) sets them: vr-fetch --timeout,
 * --retries; lib/request/origin */
#define VR_DEFAULT_FETCH_TIMEOUT "30"   /* seconds */
#define VR_DEFAULT_FETCH_RETRIES "2"

/* vr-cache */
#define VR_DEFAULT_CACHE_WAIT "60"         /* get --wait: a follower's wait (seconds) */
#define VR_DEFAULT_WARM_QUEUE "64"         /* warm --queue: jobs read ahead */
#define VR_DEFAULT_WARM_MEMORY_LIMIT "1G"  /* warm --memory-limit */
#define VR_DEFAULT_WARM_JOB_TIMEOUT "600"  /* warm --job-timeout (seconds) */
#define VR_DEFAULT_WARM_MIN_JOBS "1"       /* warm --min-jobs */
#define VR_DEFAULT_WARM_SHARD "1/1"        /* warm --shard: every job */

#endif
