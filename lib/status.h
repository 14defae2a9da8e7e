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

#endif
