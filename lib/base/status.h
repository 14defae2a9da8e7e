/* The exit-status table every vr program shares (see vr(7)). */
#ifndef VR_STATUS_H
#define VR_STATUS_H

enum vr_status {
	VR_OK = 0,         /* success */
	VR_EFAIL = 1,      /* unexpected failure */
	VR_EUSAGE = 2,     /* usage error */
	VR_EDATA = 3,      /* bad input data: malformed range, undecodable video */
	VR_ERANGE = 4,     /* range not satisfiable */
	VR_ENOTFOUND = 5,  /* source, key or origin object not found */
	VR_EIO = 6,        /* I/O or store failure */
	VR_ETIMEOUT = 7,   /* timeout or lock wait exceeded */
	VR_ELIMIT = 8,     /* a configured limit exceeded */
};

/* Not an exit status: what a byte sink (vr_emit_fn, a span writer) returns
 * to make its producer stop at once. The sink has recorded why (the reader
 * closed the output, a write failed) in its own context, and says so
 * itself; producers pass VR_STOP up unchanged and print nothing. Every
 * other nonzero result in lib/ is a vr_status. */
#define VR_STOP (-1)

#endif
