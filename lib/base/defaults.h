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

/* Defaults of the configuration file (vr.conf(5)), numbers because the
 * config reader compares and stores them as such. */
#define VR_DEFAULT_TTL_OK 86400          /* [cache] ttl-ok, seconds */
#define VR_DEFAULT_TTL_CLIENT_ERROR 60   /* [cache] ttl-client-error: a 404 remembered */
#define VR_DEFAULT_TTL_SERVER_ERROR 10   /* [cache] ttl-server-error: a 5xx or timeout */
#define VR_DEFAULT_MIN_DIMENSION 10      /* [limits] min-dimension, pixels */
#define VR_DEFAULT_MAX_DIMENSION 2000    /* [limits] max-dimension, pixels */
#define VR_DEFAULT_MAX_INPUT_PIXELS (8192LL * 8192)
#define VR_DEFAULT_MAX_OUTPUT_PIXELS (4096LL * 4096)
#define VR_DEFAULT_MAX_DURATION 3600     /* [limits] max-duration, seconds of output */
#define VR_DEFAULT_MAX_INPUT_BYTES (16ULL << 30)

#endif
