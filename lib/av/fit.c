#include "fit.h"

#include <libavutil/display.h>

#include <math.h>
#include <stdio.h>

#define MAX_SIDE 65536

/* the nearest even number, ties down (641 -> 640: never a pixel more) */
static int even_near(double x)
{
	long v = (long)floor(x / 2 + 0.5 - 1e-9) * 2;
	return v < 2 ? 2 : (int)v;
}

static int even_down(int x)
{
	x &= ~1;
	return x < 2 ? 2 : x;
}

static int at_least_one(double x)
{
	long v = lround(x);
	return v < 1 ? 1 : (int)v;
}

int vr_fit_compute(struct vr_geometry *g, int in_w, int in_h, int sar_num, int sar_den,
		   int rotation, int box_w, int box_h, enum vr_fit fit, int even, int tile)
{
	if (in_w <= 0 || in_h <= 0 || in_w > MAX_SIDE || in_h > MAX_SIDE)
		return -1;
	rotation = ((rotation % 360) + 360) % 360;
	g->rotation = rotation;
	double w = in_w, h = in_h;
	if (sar_num > 0 && sar_den > 0 && sar_num != sar_den)
		w = w * sar_num / sar_den;
	if (rotation == 90 || rotation == 270) {
		double t = w;
		w = h;
		h = t;
	}
	g->disp_w = at_least_one(w);
	g->disp_h = at_least_one(h);

	double r;
	if (box_w > 0 && box_h > 0) {
		double rw = box_w / w, rh = box_h / h;
		r = fit == VR_FIT_COVER ? fmax(rw, rh) : fmin(rw, rh);
	} else if (box_w > 0) {
		r = box_w / w;
	} else if (box_h > 0) {
		r = box_h / h;
	} else {
		r = 1;
	}
	if (fit == VR_FIT_SCALE_DOWN && r > 1)
		r = 1;
	double sw = w * r, sh = h * r;
	g->crop = g->pad = 0;
	if (fit == VR_FIT_COVER && box_w > 0 && box_h > 0) {
		g->out_w = even ? even_down(box_w) : box_w;
		g->out_h = even ? even_down(box_h) : box_h;
		/* scale to at least the box, then crop the overflow */
		g->scale_w = (int)ceil(sw - 1e-6);
		g->scale_h = (int)ceil(sh - 1e-6);
		if (even) {
			g->scale_w = (g->scale_w + 1) & ~1;
			g->scale_h = (g->scale_h + 1) & ~1;
		}
		if (g->scale_w < g->out_w)
			g->scale_w = g->out_w;
		if (g->scale_h < g->out_h)
			g->scale_h = g->out_h;
		g->crop = g->scale_w != g->out_w || g->scale_h != g->out_h;
		return 0;
	}
	g->scale_w = even ? even_near(sw) : at_least_one(sw);
	g->scale_h = even ? even_near(sh) : at_least_one(sh);
	if (tile && box_w > 0 && box_h > 0) {
		int bw = even ? even_down(box_w) : box_w, bh = even ? even_down(box_h) : box_h;
		if (g->scale_w > bw)
			g->scale_w = bw;
		if (g->scale_h > bh)
			g->scale_h = bh;
		g->out_w = bw;
		g->out_h = bh;
		g->pad = g->scale_w != bw || g->scale_h != bh;
		return 0;
	}
	g->out_w = g->scale_w;
	g->out_h = g->scale_h;
	return 0;
}

int vr_fit_filters(const struct vr_geometry *g, char *buf, size_t len)
{
	const char *rot = g->rotation == 90    ? "transpose=clock,"
			  : g->rotation == 180 ? "hflip,vflip,"
			  : g->rotation == 270 ? "transpose=cclock,"
					       : "";
	int n = snprintf(buf, len, "%sscale=w=%d:h=%d", rot, g->scale_w, g->scale_h);
	if (n < 0 || (size_t)n >= len)
		return n;
	if (g->crop)
		n += snprintf(buf + n, len - (size_t)n, ",crop=%d:%d:%d:%d", g->out_w, g->out_h,
			      (g->scale_w - g->out_w) / 2, (g->scale_h - g->out_h) / 2);
	else if (g->pad)
		n += snprintf(buf + n, len - (size_t)n, ",pad=%d:%d:%d:%d:color=black", g->out_w,
			      g->out_h, (g->out_w - g->scale_w) / 2 & ~1,
			      (g->out_h - g->scale_h) / 2 & ~1);
	if ((size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ",setsar=1");
	return n;
}

int vr_fit_rotation(const int32_t *matrix)
{
	if (!matrix)
		return 0;
	/* av_display_rotation_get: counter-clockwise degrees of the matrix;
	 * showing the picture upright takes the opposite turn */
	double theta = -av_display_rotation_get(matrix);
	if (isnan(theta))
		return 0;
	theta -= 360 * floor(theta / 360 + 0.9 / 360);
	if (fabs(theta - 90) < 2)
		return 90;
	if (fabs(theta - 180) < 2)
		return 180;
	if (fabs(theta - 270) < 2)
		return 270;
	return 0;
}
