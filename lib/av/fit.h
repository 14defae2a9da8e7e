/* Output geometry: where a picture of the input ends up for a box and a
 * fit, and the libavfilter chain that puts it there. Pure arithmetic, no
 * libav state.
 *
 *   contain      scale to fit inside the box, keeping the aspect ratio
 *   scale-down   contain, but never larger than the input
 *   cover        scale to fill the box and crop the overflow, centred
 *
 * With one side of the box given, the other follows from the aspect ratio;
 * with none, the input's display size is kept. The display size is the
 * coded size with the pixel aspect ratio applied and the rotation of the
 * display matrix (90 or 270 degrees swap the sides), so a phone's portrait
 * video stays portrait. A tile (spritesheet) is always exactly the box:
 * contain and scale-down pad it with black. */
#ifndef VR_FIT_H
#define VR_FIT_H

#include "params.h"

#include <stddef.h>
#include <stdint.h>

struct vr_geometry {
	int rotation;          /* clockwise degrees applied: 0, 90, 180, 270 */
	int disp_w, disp_h;    /* the input as displayed */
	int scale_w, scale_h;  /* after scaling */
	int out_w, out_h;      /* after cropping or padding: the output */
	int crop, pad;         /* a centred crop / pad from scale_* to out_* */
};

/* Fill g. sar_num/sar_den 0 mean square pixels; even: both output sides
 * even (4:2:0 encoders); tile: the output is exactly the box. Returns 0, or
 * -1 when the input size is unusable (zero or absurd). */
int vr_fit_compute(struct vr_geometry *g, int in_w, int in_h, int sar_num, int sar_den,
		   int rotation, int box_w, int box_h, enum vr_fit fit, int even, int tile);

/* The filter chain (rotation, scale, crop or pad, setsar) as text for
 * avfilter_graph_parse. Returns the length like snprintf. */
int vr_fit_filters(const struct vr_geometry *g, char *buf, size_t len);

/* Clockwise rotation (0, 90, 180, 270) that shows a picture upright, from
 * a 3x3 display matrix (AV_PKT_DATA_DISPLAYMATRIX); 0 for NULL. */
int vr_fit_rotation(const int32_t *matrix);

#endif
