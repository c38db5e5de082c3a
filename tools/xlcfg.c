/* SPDX-License-Identifier: MIT */
/*
 * xl's domain configuration file syntax (xl.cfg(5)): a small recursive
 * descent parser over a tokenizer that counts lines. See xlcfg.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ring/pvio_export.h"
#include "tools/xlcfg.h"

enum tok {
	T_EOF, T_SEP /* newline or ';' */, T_ID, T_ATOM /* number */, T_STRING,
	T_EQ, T_ADD, T_LBR, T_RBR, T_COMMA, T_ERR,
};

struct lex {
	const char *p, *end;
	const char *source;
	unsigned line;
	int depth;             /* inside [ ]: newlines are blanks */
	/* the current token */
	enum tok t;
	unsigned tline;
	char *text;            /* T_ID, T_ATOM, T_STRING (malloc'd) */
	char *err;
	size_t errlen;
	int r;                 /* first error */
};

static void lerr(struct lex *l, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void lerr(struct lex *l, unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (l->r)
		return;
	l->r = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->err && l->errlen)
		snprintf(l->err, l->errlen, "%s:%u: %s", l->source, line, msg);
}

static int is_id0(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_id(int c)
{
	return is_id0(c) || (c >= '0' && c <= '9') || c == '.';
}

static int is_atom(int c)
{
	return is_id(c) || c == '-' || c == '+';
}

/* A quoted string with xl's escapes, into a fresh buffer. */
static char *lex_string(struct lex *l)
{
	char q = *l->p++, *out, *o;
	const char *s = l->p;

	while (l->p < l->end && *l->p != q && *l->p != '\n') {
		if (*l->p == '\\' && l->p + 1 < l->end && l->p[1] != '\n')
			l->p++;
		l->p++;
	}
	if (l->p >= l->end || *l->p != q) {
		lerr(l, l->line, "unterminated string (a %c...%c string ends on its line)", q, q);
		return NULL;
	}
	out = o = malloc((size_t)(l->p - s) + 1);
	if (!out) {
		l->r = -ENOMEM;
		return NULL;
	}
	while (s < l->p) {
		char c = *s++;
		unsigned v = 0;
		int k;

		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = *s++;
		switch (c) {
		case '"': case '\'': case '\\': *o++ = c; break;
		case 'a': *o++ = '\a'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'v': *o++ = '\v'; break;
		case 'x':
			for (k = 0; k < 2 && s < l->p; k++, s++) {
				int d = *s >= '0' && *s <= '9' ? *s - '0' :
					*s >= 'a' && *s <= 'f' ? *s - 'a' + 10 :
					*s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;
				if (d < 0)
					break;
				v = v * 16 + (unsigned)d;
			}
			if (k != 2)
				goto bad;
			*o++ = (char)v;
			break;
		default:
			if (c < '0' || c > '7')
				goto bad;
			v = (unsigned)(c - '0');
			for (k = 1; k < 3 && s < l->p && *s >= '0' && *s <= '7'; k++, s++)
				v = v * 8 + (unsigned)(*s - '0');
			if (v > 255)
				goto bad;
			*o++ = (char)v;
			break;
		}
		if (o[-1] == 0) {
			lerr(l, l->line, "a NUL character in a string");
			free(out);
			return NULL;
		}
	}
	*o = 0;
	l->p++;   /* closing quote */
	return out;
bad:
	lerr(l, l->line, "bad escape after a backslash in a quoted string");
	free(out);
	return NULL;
}

static void next(struct lex *l)
{
	free(l->text);
	l->text = NULL;
	for (;;) {
		while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\r'))
			l->p++;
		if (l->p < l->end && *l->p == '#') {
			while (l->p < l->end && *l->p != '\n')
				l->p++;
		}
		if (l->p < l->end && *l->p == '\n' && l->depth > 0) {
			l->p++;
			l->line++;
			continue;
		}
		break;
	}
	l->tline = l->line;
	if (l->r) {
		l->t = T_ERR;
		return;
	}
	if (l->p >= l->end) {
		l->t = T_EOF;
		return;
	}
	const char *s = l->p;
	char c = *l->p;

	if (c == '\n' || c == ';') {
		if (c == '\n')
			l->line++;
		l->p++;
		l->t = T_SEP;
		return;
	}
	if (c == '=' || c == '[' || c == ']' || c == ',') {
		l->p++;
		l->t = c == '=' ? T_EQ : c == '[' ? T_LBR : c == ']' ? T_RBR : T_COMMA;
		return;
	}
	if (c == '+' && l->p + 1 < l->end && l->p[1] == '=') {
		l->p += 2;
		l->t = T_ADD;
		return;
	}
	if (c == '"' || c == '\'') {
		l->text = lex_string(l);
		l->t = l->text ? T_STRING : T_ERR;
		return;
	}
	if (is_id0((unsigned char)c)) {
		while (l->p < l->end && is_id((unsigned char)*l->p))
			l->p++;
		l->t = T_ID;
	} else if ((c >= '0' && c <= '9') || c == '-') {
		while (l->p < l->end && is_atom((unsigned char)*l->p))
			l->p++;
		l->t = T_ATOM;
	} else {
		if (c >= 0x20 && c < 0x7f)
			lerr(l, l->line, "unexpected character '%c'", c);
		else
			lerr(l, l->line, "unexpected byte 0x%02x", (unsigned char)c);
		l->t = T_ERR;
		return;
	}
	l->text = strndup(s, (size_t)(l->p - s));
	if (!l->text) {
		l->r = -ENOMEM;
		l->t = T_ERR;
	}
}

static const char *tok_name(const struct lex *l)
{
	switch (l->t) {
	case T_EOF: return "the end of the file";
	case T_SEP: return "the end of the line";
	case T_ID: case T_ATOM: return l->text;
	case T_STRING: return "a string";
	case T_EQ: return "'='";
	case T_ADD: return "'+='";
	case T_LBR: return "'['";
	case T_RBR: return "']'";
	case T_COMMA: return "','";
	default: return "an error";
	}
}

static void value_free(struct pvio_xlcfg_value *v)
{
	if (!v)
		return;
	free(v->str);
	for (unsigned i = 0; i < v->n; i++)
		value_free(v->items[i]);
	free(v->items);
	free(v);
}

static struct pvio_xlcfg_value *parse_value(struct lex *l);

static struct pvio_xlcfg_value *parse_list(struct lex *l)
{
	struct pvio_xlcfg_value *v = calloc(1, sizeof(*v));
	unsigned open_line = l->tline, cap = 0;

	if (!v) {
		l->r = -ENOMEM;
		return NULL;
	}
	v->type = PVIO_XLCFG_LIST;
	v->line = open_line;
	if (++l->depth > PVIO_XLCFG_MAX_DEPTH) {
		lerr(l, l->tline, "lists nested deeper than %d", PVIO_XLCFG_MAX_DEPTH);
		goto err;
	}
	next(l);   /* past '[' */
	while (l->t != T_RBR) {
		struct pvio_xlcfg_value *item;

		if (l->t == T_EOF) {
			lerr(l, open_line, "the list opened here has no closing ']'");
			goto err;
		}
		if (v->n >= PVIO_XLCFG_MAX_ITEMS) {
			lerr(l, l->tline, "more than %d values in a list", PVIO_XLCFG_MAX_ITEMS);
			goto err;
		}
		item = parse_value(l);
		if (!item)
			goto err;
		if (v->n == cap) {
			unsigned nc = cap ? cap * 2 : 4;
			struct pvio_xlcfg_value **ni = realloc(v->items, nc * sizeof(*ni));
			if (!ni) {
				value_free(item);
				l->r = -ENOMEM;
				goto err;
			}
			v->items = ni;
			cap = nc;
		}
		v->items[v->n++] = item;
		if (l->t == T_COMMA) {
			next(l);
		} else if (l->t != T_RBR) {
			if (l->t == T_EOF)
				lerr(l, open_line, "the list opened here has no closing ']'");
			else
				lerr(l, l->tline, "expected ',' or ']' in a list, found %s",
				     tok_name(l));
			goto err;
		}
	}
	l->depth--;
	next(l);   /* past ']' */
	return v;
err:
	value_free(v);
	return NULL;
}

static struct pvio_xlcfg_value *parse_value(struct lex *l)
{
	struct pvio_xlcfg_value *v;

	if (l->t == T_LBR)
		return parse_list(l);
	if (l->t != T_STRING && l->t != T_ATOM) {
		if (l->t == T_ID)
			lerr(l, l->tline, "'%s' is neither a number nor a quoted string "
			     "(strings take quotes: \"%s\")", l->text, l->text);
		else
			lerr(l, l->tline, "expected a value, found %s", tok_name(l));
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		l->r = -ENOMEM;
		return NULL;
	}
	v->type = PVIO_XLCFG_STRING;
	v->line = l->tline;
	v->quoted = l->t == T_STRING;
	v->str = l->text;
	l->text = NULL;
	next(l);
	return v;
}

static int add_setting(struct pvio_xlcfg *cfg, char *key, unsigned line,
		       struct pvio_xlcfg_value *val)
{
	if (cfg->n == cfg->cap) {
		unsigned nc = cfg->cap ? cfg->cap * 2 : 16;
		struct pvio_xlcfg_setting *ns = realloc(cfg->set, nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		cfg->set = ns;
		cfg->cap = nc;
	}
	cfg->set[cfg->n].key = key;
	cfg->set[cfg->n].line = line;
	cfg->set[cfg->n].val = val;
	cfg->n++;
	return 0;
}

/* KEY += VALUE: a copy of the previous value with val appended. */
static int append_to(struct lex *l, const struct pvio_xlcfg_setting *prev,
		     struct pvio_xlcfg_value *val, unsigned line)
{
	struct pvio_xlcfg_value *p = prev->val;

	if (p->type != val->type) {
		lerr(l, line, "'+=' cannot add a %s to the %s set on line %u",
		     val->type == PVIO_XLCFG_LIST ? "list" : "string",
		     p->type == PVIO_XLCFG_LIST ? "list" : "string", prev->line);
		return -EINVAL;
	}
	if (val->type == PVIO_XLCFG_STRING) {
		/* As lists: the earlier setting's string grows into the new one's
		 * and the earlier one is left "" (no copy per '+=', which would
		 * make n appends cost n^2 bytes). */
		size_t a = strlen(p->str), b = strlen(val->str);
		char *empty = calloc(1, 1), *s;
		/* "web" += 1 is the string "web1", not a NUMBER; 1 += 2 is 12. */
		bool quoted = val->quoted || p->quoted;

		if (!empty)
			return -ENOMEM;
		s = realloc(p->str, a + b + 1);
		if (!s) {
			free(empty);
			return -ENOMEM;
		}
		p->str = empty;
		p->quoted = true;
		memcpy(s + a, val->str, b + 1);
		free(val->str);
		val->str = s;
		val->quoted = quoted;
		return 0;
	}
	/* Lists: the earlier setting gives its items up to the new one (it is
	 * shadowed from now on). */
	if (p->n + val->n > PVIO_XLCFG_MAX_ITEMS) {
		lerr(l, line, "more than %d values in a list", PVIO_XLCFG_MAX_ITEMS);
		return -EINVAL;
	}
	struct pvio_xlcfg_value **ni = malloc(((size_t)p->n + val->n + 1) * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	if (p->n)
		memcpy(ni, p->items, p->n * sizeof(*ni));
	if (val->n)
		memcpy(ni + p->n, val->items, val->n * sizeof(*ni));
	free(val->items);
	val->items = ni;
	val->n += p->n;
	p->n = 0;
	return 0;
}

PVIO_EXPORT int pvio_xlcfg_parse(struct pvio_xlcfg *cfg, const char *text, size_t len,
				 const char *source, char *err, size_t errlen)
{
	struct lex l = { .p = text, .end = text + len, .source = source ? source : "config",
			 .line = 1, .err = err, .errlen = errlen };

	if (len > PVIO_XLCFG_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: larger than %u bytes", l.source,
				 PVIO_XLCFG_MAX_BYTES);
		return -EFBIG;
	}
	if (memchr(text, 0, len)) {
		unsigned line = 1;
		for (const char *q = text; *q; q++)
			line += *q == '\n';
		lerr(&l, line, "a NUL byte (not a text file?)");
		return l.r;
	}
	next(&l);
	while (l.t != T_EOF && !l.r) {
		struct pvio_xlcfg_value *val;
		const struct pvio_xlcfg_setting *prev;
		unsigned line = l.tline;
		bool add;
		char *key;
		int r;

		if (l.t == T_SEP) {
			next(&l);
			continue;
		}
		if (l.t != T_ID) {
			if (l.t != T_ERR)
				lerr(&l, l.tline, "expected a setting (KEY = VALUE), found %s",
				     tok_name(&l));
			break;
		}
		key = l.text;
		l.text = NULL;
		next(&l);
		if (l.t != T_EQ && l.t != T_ADD) {
			lerr(&l, line, "expected '=' after '%s', found %s", key, tok_name(&l));
			free(key);
			break;
		}
		add = l.t == T_ADD;
		next(&l);
		val = parse_value(&l);
		if (!val) {
			free(key);
			break;
		}
		if (l.t != T_SEP && l.t != T_EOF) {
			lerr(&l, l.tline, "expected the end of the line after the value of '%s', "
			     "found %s", key, tok_name(&l));
			value_free(val);
			free(key);
			break;
		}
		if (cfg->n >= PVIO_XLCFG_MAX_SETTINGS) {
			lerr(&l, line, "more than %d settings", PVIO_XLCFG_MAX_SETTINGS);
			value_free(val);
			free(key);
			break;
		}
		prev = add ? pvio_xlcfg_get(cfg, key) : NULL;
		if (prev && (r = append_to(&l, prev, val, line)) < 0) {
			if (!l.r)
				l.r = r;
			value_free(val);
			free(key);
			break;
		}
		if ((r = add_setting(cfg, key, line, val)) < 0) {
			l.r = r;
			value_free(val);
			free(key);
			break;
		}
	}
	free(l.text);
	if (l.r == -ENOMEM && err && errlen)
		snprintf(err, errlen, "%s: out of memory", l.source);
	return l.r;
}

PVIO_EXPORT int pvio_xlcfg_load(struct pvio_xlcfg *cfg, const char *path, char *err,
				size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return r;
	}
	if ((uint64_t)st.st_size > PVIO_XLCFG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, PVIO_XLCFG_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	/* Read to the end (the file may change under us: bounded anyway). */
	for (;;) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			snprintf(err, errlen, "%s: grew while being read", path);
			r = -EAGAIN;
			goto out;
		}
	}
	r = pvio_xlcfg_parse(cfg, buf, len, path, err, errlen);
	goto out;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(-r));
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

PVIO_EXPORT const struct pvio_xlcfg_setting *pvio_xlcfg_get(const struct pvio_xlcfg *cfg,
							    const char *key)
{
	for (unsigned i = cfg->n; i-- > 0;)
		if (strcmp(cfg->set[i].key, key) == 0)
			return &cfg->set[i];
	return NULL;
}

PVIO_EXPORT void pvio_xlcfg_free(struct pvio_xlcfg *cfg)
{
	for (unsigned i = 0; i < cfg->n; i++) {
		free(cfg->set[i].key);
		value_free(cfg->set[i].val);
	}
	free(cfg->set);
	memset(cfg, 0, sizeof(*cfg));
}

/* xl.cfg(5)'s keys (Xen 4.17), sorted. */
static const char *const xl_keys[] = {
	"acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m",
	"altp2mhvm", "apic", "bios", "bios_path_override", "boot", "bootloader",
	"bootloader_args", "builder", "cap", "channel", "claim_mode", "cmdline", "cpu_weight",
	"cpuid", "cpus", "cpus_soft", "device_model", "device_model_args",
	"device_model_args_hvm", "device_model_args_pv", "device_model_override",
	"device_model_stubdomain_override", "device_model_stubdomain_seclabel",
	"device_model_user", "device_model_version", "device_tree", "disk", "dm_restrict",
	"driver_domain", "dtdev", "e820_host", "event_channels", "extra", "firmware",
	"gfx_passthru", "gic_version", "hap", "hdtype", "hpet", "init_seclabel", "iomem",
	"ioports", "irqs", "kernel", "keymap", "localtime", "max_event_channels",
	"max_grant_frames", "max_grant_version", "max_maptrack_frames", "maxmem", "maxvcpus",
	"memory", "mmio_hole", "ms_vm_genid", "msr_relaxed", "name", "nestedhvm", "nographic",
	"nomigrate", "on_crash", "on_poweroff", "on_reboot", "on_soft_reset", "on_watchdog",
	"oos", "opengl", "p9", "pae", "passthrough", "pci", "pci_msitranslate",
	"pci_permissive", "pci_power_mgmt", "pci_seize", "pool", "pvcalls", "pvh", "pvshim",
	"pvshim_cmdline", "pvshim_extra", "pvshim_path", "ramdisk", "rdm",
	"rdm_mem_boundary", "root", "rtc_timeoffset", "sdl", "seclabel", "serial",
	"shadow_memory", "smbios", "smbios_firmware", "soundhw", "spice",
	"spice_clipboard_sharing", "spice_image_compression", "spice_streaming_video",
	"spiceagent_mouse", "spicedisable_ticketing", "spicehost", "spicepasswd",
	"spiceport", "spicetls_port", "spiceusbredirection", "spicevdagent", "stdvga",
	"sve", "tee", "timer_mode", "trap_unmapped_accesses", "tsc_mode", "type", "usb",
	"usbctrl", "usbdev", "usbdevice", "usbversion", "uuid", "vcpus", "vdispl",
	"vendor_device", "vfb", "vga", "videoram", "vif", "viridian", "vkb", "vkb_device",
	"vmtrace_buf_kb", "vnc", "vncconsole", "vncdisplay", "vnclisten", "vncpasswd",
	"vncunused", "vnuma", "vpmu", "vpt_align", "vsnd", "vtpm", "vuart", "xen_platform_pci",
	"xend_suspend_evtchn_compat",
};

static int cmp_key(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

PVIO_EXPORT bool pvio_xlcfg_xl_knows(const char *key)
{
	return bsearch(key, xl_keys, sizeof(xl_keys) / sizeof(xl_keys[0]), sizeof(xl_keys[0]),
		       cmp_key) != NULL;
}
