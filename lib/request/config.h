/* The INI-style configuration file (see vr.conf(5)).
 *
 *   # comment            ; comment
 *   [section]
 *   [section "name"]
 *   key = value          (repeatable; order kept)
 *
 * Lookup: --config FILE, else $VR_CONFIG, else $XDG_CONFIG_HOME/vr/vr.conf
 * (~/.config/vr/vr.conf). A missing default file means built-in defaults;
 * a file named explicitly must exist.
 *
 * Contract: the config owns every string it returns (values, names,
 * source): valid until vr_config_free. Loaded once, it is read-only, so
 * threads may share it; vr_config_where's text is per thread, valid until
 * that thread's next vr_config_where. */
#ifndef VR_CONFIG_H
#define VR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define VR_CONFIG_MAX_BYTES (1 << 20)
#define VR_CONFIG_MAX_LINE 8192

struct vr_config;

/* Returns 0, or a vr_status (VR_ENOTFOUND for an explicit missing file,
 * VR_EDATA for a syntax error, VR_EIO for an unreadable file) with err
 * saying where. *cfg is always set to a usable (maybe empty) config. */
int vr_config_load(struct vr_config **cfg, const char *path, char *err, size_t errlen);
/* Parse from memory; name is used in messages. */
int vr_config_parse(struct vr_config **cfg, const char *text, size_t len, const char *name,
		    char *err, size_t errlen);
void vr_config_free(struct vr_config *cfg);

/* The file the config came from, or NULL for built-in defaults. */
const char *vr_config_source(const struct vr_config *cfg);

/* The last value of key in [section] (sub NULL) or [section "sub"]. */
const char *vr_config_get(const struct vr_config *cfg, const char *section, const char *sub,
			  const char *key);
/* The n-th (0-based) value of a repeated key, in file order; NULL past the end. */
const char *vr_config_get_nth(const struct vr_config *cfg, const char *section, const char *sub,
			      const char *key, size_t n);
/* "FILE:LINE" of that last value, for messages; "" when absent. */
const char *vr_config_where(const struct vr_config *cfg, const char *section, const char *sub,
			    const char *key);
/* Names of the [section "name"] blocks of one kind, in file order. Returns
 * the count (which may exceed max; only max are stored). */
size_t vr_config_names(const struct vr_config *cfg, const char *section, const char **names,
		       size_t max);

/* Every key of [section] (sub NULL) or [section "sub"] must be one of the
 * NULL-terminated known list: 0, or VR_EDATA with a message naming
 * FILE:LINE and the unknown key, so a misspelt key is never silently
 * ignored. */
int vr_config_check_keys(const struct vr_config *cfg, const char *section, const char *sub,
			 const char *const *known, char *err, size_t errlen);

/* Typed getters: 0 when absent (*out unchanged) or valid, VR_EDATA with a
 * message naming FILE:LINE and the key when the value is invalid. */
int vr_config_seconds(const struct vr_config *cfg, const char *section, const char *sub,
		      const char *key, double *out, char *err, size_t errlen);
int vr_config_size(const struct vr_config *cfg, const char *section, const char *sub,
		   const char *key, uint64_t *out, char *err, size_t errlen);
/* yes/true/on/1 -> 1, no/false/off/0 -> 0 (case does not matter) */
int vr_config_yes_no(const struct vr_config *cfg, const char *section, const char *sub,
		     const char *key, int *out, char *err, size_t errlen);

#endif
