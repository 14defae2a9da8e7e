/* Small pieces every program's option handling shares. */
#ifndef VR_CLI_H
#define VR_CLI_H

#include <stdio.h>

/* "vr-range (vr) 0.1.0" on stdout. */
void vr_print_version(void);
/* "Try 'vr-range --help'." on stderr; returns VR_EUSAGE. */
int vr_usage_hint(void);

#endif
