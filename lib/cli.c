#include "cli.h"
#include "log.h"
#include "status.h"

#ifndef VR_VERSION
#define VR_VERSION "0.0.0"
#endif

void vr_print_version(void)
{
	printf("%s (vr) %s\n", vr_prog(), VR_VERSION);
}

int vr_usage_hint(void)
{
	fprintf(stderr, "Try '%s --help'.\n", vr_prog());
	return VR_EUSAGE;
}
