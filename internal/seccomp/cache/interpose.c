//go:build linux && cgo && seccomp

// Interposed libseccomp entry points: see doc.go for the design.
//
// Only libseccomp-golang calls libseccomp in this binary, and in the
// container's init only libcontainer's InitSeccomp builds a filter. The
// state below is per process and guarded by one mutex.

#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpose.h"

#define MAX_ENTRY_FILE (1 << 20)

enum mode {
	MODE_OFF,     // pass everything through
	MODE_LOOKUP,  // container init: defer rules, answer export from the cache
	MODE_CAPTURE, // compile helper: record rules and the exported program
};

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct entry {
	const unsigned char *log, *bpf;
	size_t log_len, bpf_len;
};

struct rule {
	int exact;
	uint32_t action;
	int syscall;
	unsigned int arg_cnt;
	struct scmp_arg_cmp args[6];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static enum mode mode;
static struct entry entries[SECCOMPCACHE_MAX_ENTRIES];
static int nentries;

// The one filter context being recorded, its log so far, and in lookup
// mode the rules not yet given to libseccomp and the entries whose log
// still starts with ours.
static scmp_filter_ctx rec_ctx;
static int rec_active;
static struct buf rec_log;
static struct rule *pending;
static size_t npending, cap_pending;
static int deferring;
static unsigned char candidate[SECCOMPCACHE_MAX_ENTRIES];

// What capture mode saw at export.
static struct buf captured_log, captured_bpf;
static int captured;

// REAL(name) is libseccomp's own definition of name, looked up once
// (dlsym costs microseconds; a filter makes hundreds of calls).
#define REAL(name)                                                           \
	({                                                                   \
		static __typeof__(&name) real_;                              \
		if (__atomic_load_n(&real_, __ATOMIC_ACQUIRE) == NULL)       \
			__atomic_store_n(&real_, (__typeof__(&name))real_fn(#name), \
					 __ATOMIC_RELEASE);                  \
		real_;                                                       \
	})

static void *real_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);
	if (fn == NULL)
		abort(); // libseccomp is linked dynamically; its symbols exist
	return fn;
}

static int buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (q == NULL)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int put32(struct buf *b, uint32_t v) { return buf_append(b, &v, sizeof(v)); }
static int put64(struct buf *b, uint64_t v) { return buf_append(b, &v, sizeof(v)); }

static void rec_reset(void)
{
	free(rec_log.p);
	memset(&rec_log, 0, sizeof(rec_log));
	free(pending);
	pending = NULL;
	npending = cap_pending = 0;
	rec_ctx = NULL;
	rec_active = 0;
	deferring = 0;
}

// Everything libseccomp's output depends on besides the rules: its
// version, the native architecture, every filter attribute and the set of
// architectures, read from the context when its first rule arrives.
static int snapshot(scmp_filter_ctx ctx)
{
	static const uint32_t arches[] = {
		SCMP_ARCH_X86, SCMP_ARCH_X86_64, SCMP_ARCH_X32, SCMP_ARCH_ARM,
		SCMP_ARCH_AARCH64, SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS64N32,
		SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32, SCMP_ARCH_PPC,
		SCMP_ARCH_PPC64, SCMP_ARCH_PPC64LE, SCMP_ARCH_S390, SCMP_ARCH_S390X,
		SCMP_ARCH_PARISC, SCMP_ARCH_PARISC64, SCMP_ARCH_RISCV64,
	};
	const struct scmp_version *v = seccomp_version();
	int err = put32(&rec_log, SECCOMPCACHE_MAGIC); // log format

	err = err ?: put32(&rec_log, v->major);
	err = err ?: put32(&rec_log, v->minor);
	err = err ?: put32(&rec_log, v->micro);
	err = err ?: put32(&rec_log, seccomp_arch_native());
	for (uint32_t a = 1; a < 64 && !err; a++) {
		uint32_t val = 0;
		int rc = seccomp_attr_get(ctx, a, &val);
		if (rc == -EINVAL || rc == -EOPNOTSUPP)
			continue;
		err = put32(&rec_log, a);
		err = err ?: put32(&rec_log, (uint32_t)rc);
		err = err ?: put32(&rec_log, val);
	}
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]) && !err; i++)
		if (seccomp_arch_exist(ctx, arches[i]) == 0)
			err = put32(&rec_log, arches[i]);
	return err;
}

static int log_rule(const struct rule *r)
{
	int err = put32(&rec_log, r->exact ? 0x45 : 0x52);
	err = err ?: put32(&rec_log, r->action);
	err = err ?: put32(&rec_log, (uint32_t)r->syscall);
	err = err ?: put32(&rec_log, r->arg_cnt);
	for (unsigned int i = 0; i < r->arg_cnt && !err; i++) {
		err = put32(&rec_log, r->args[i].arg);
		err = err ?: put32(&rec_log, r->args[i].op);
		err = err ?: put64(&rec_log, r->args[i].datum_a);
		err = err ?: put64(&rec_log, r->args[i].datum_b);
	}
	return err;
}

static int add_real(scmp_filter_ctx ctx, const struct rule *r)
{
	if (r->exact)
		return REAL(seccomp_rule_add_exact_array)(ctx, r->action, r->syscall, r->arg_cnt, r->args);
	return REAL(seccomp_rule_add_array)(ctx, r->action, r->syscall, r->arg_cnt, r->args);
}

// flush gives libseccomp the deferred rules, in order, and stops
// deferring. The rules matched a cached compile of the same calls, so
// they do not fail; if one does, its error is returned.
static int flush(void)
{
	int rc = 0;

	deferring = 0;
	for (size_t i = 0; i < npending && rc == 0; i++)
		rc = add_real(rec_ctx, &pending[i]);
	free(pending);
	pending = NULL;
	npending = cap_pending = 0;
	return rc;
}

// stop_recording ends recording of rec_ctx, giving libseccomp whatever
// was deferred: used before any call that reads or changes the context
// in a way the log does not describe.
static int stop_recording(const scmp_filter_ctx ctx)
{
	int rc = 0;

	if (!rec_active || ctx != rec_ctx)
		return 0;
	if (deferring)
		rc = flush();
	rec_reset();
	rec_ctx = ctx; // stays claimed: no new recording starts on it
	return rc;
}

// update_candidates keeps the entries whose log starts with ours and
// reports whether any is left.
static int update_candidates(void)
{
	int any = 0;

	for (int i = 0; i < nentries; i++) {
		if (candidate[i] && (entries[i].log_len < rec_log.len ||
				     memcmp(entries[i].log, rec_log.p, rec_log.len) != 0))
			candidate[i] = 0;
		any |= candidate[i];
	}
	return any;
}

static int rule_add(scmp_filter_ctx ctx, const struct rule *r)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (mode == MODE_OFF || (rec_ctx != NULL && ctx != rec_ctx) ||
	    (rec_ctx == ctx && !rec_active) || r->arg_cnt > 6) {
		if (rec_ctx == ctx && rec_active && (rc = stop_recording(ctx)) != 0)
			goto out;
		rc = add_real(ctx, r);
		goto out;
	}
	if (rec_ctx == NULL) {
		rec_ctx = ctx;
		rec_active = 1;
		if (snapshot(ctx) != 0) {
			rec_reset();
			rec_ctx = ctx;
			rc = add_real(ctx, r);
			goto out;
		}
		if (mode == MODE_LOOKUP) {
			memset(candidate, 1, sizeof(candidate));
			deferring = 1;
		}
	}
	if (log_rule(r) != 0) {
		rc = stop_recording(ctx);
		rc = rc ?: add_real(ctx, r);
		goto out;
	}
	if (mode == MODE_LOOKUP) {
		if (!update_candidates()) {
			// No cached compile starts like this filter: hand over.
			rc = stop_recording(ctx);
			rc = rc ?: add_real(ctx, r);
			goto out;
		}
		if (npending == cap_pending) {
			size_t cap = cap_pending ? cap_pending * 2 : 512;
			struct rule *p = realloc(pending, cap * sizeof(*p));
			if (p == NULL) {
				rc = stop_recording(ctx);
				rc = rc ?: add_real(ctx, r);
				goto out;
			}
			pending = p;
			cap_pending = cap;
		}
		pending[npending++] = *r;
		rc = 0;
		goto out;
	}
	rc = add_real(ctx, r); // capture: record and apply
out:
	pthread_mutex_unlock(&mu);
	return rc;
}

static struct rule make_rule(int exact, uint32_t action, int syscall, unsigned int arg_cnt,
			     const struct scmp_arg_cmp *args)
{
	struct rule r = {.exact = exact, .action = action, .syscall = syscall, .arg_cnt = arg_cnt};

	if (arg_cnt <= 6 && args != NULL)
		memcpy(r.args, args, arg_cnt * sizeof(*args));
	return r;
}

// unrecordable reports whether a rule cannot go into the log as it is
// (libseccomp refuses it anyway); recording of its context stops first,
// so that nothing reaches libseccomp behind the log's back.
static int unrecordable(scmp_filter_ctx ctx, unsigned int arg_cnt, const struct scmp_arg_cmp *args,
			int *rc)
{
	if (arg_cnt <= 6 && (arg_cnt == 0 || args != NULL))
		return 0;
	pthread_mutex_lock(&mu);
	*rc = stop_recording(ctx);
	pthread_mutex_unlock(&mu);
	return 1;
}

int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
			   const struct scmp_arg_cmp *arg_array)
{
	struct rule r;
	int rc = 0;

	if (unrecordable(ctx, arg_cnt, arg_array, &rc))
		return rc ?: REAL(seccomp_rule_add_array)(ctx, action, syscall, arg_cnt, arg_array);
	r = make_rule(0, action, syscall, arg_cnt, arg_array);
	return rule_add(ctx, &r);
}

int seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				 unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	struct rule r;
	int rc = 0;

	if (unrecordable(ctx, arg_cnt, arg_array, &rc))
		return rc ?: REAL(seccomp_rule_add_exact_array)(ctx, action, syscall, arg_cnt, arg_array);
	r = make_rule(1, action, syscall, arg_cnt, arg_array);
	return rule_add(ctx, &r);
}

static int rule_add_va(int exact, scmp_filter_ctx ctx, uint32_t action, int syscall,
		       unsigned int arg_cnt, va_list ap)
{
	struct scmp_arg_cmp args[6];
	struct rule r;

	if (arg_cnt > 6) {
		int rc = 0;
		unrecordable(ctx, arg_cnt, NULL, &rc);
		return rc ?: -EINVAL;
	}
	for (unsigned int i = 0; i < arg_cnt; i++)
		args[i] = va_arg(ap, struct scmp_arg_cmp);
	r = make_rule(exact, action, syscall, arg_cnt, args);
	return rule_add(ctx, &r);
}

int seccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg_cnt);
	rc = rule_add_va(0, ctx, action, syscall, arg_cnt, ap);
	va_end(ap);
	return rc;
}

int seccomp_rule_add_exact(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
			   ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg_cnt);
	rc = rule_add_va(1, ctx, action, syscall, arg_cnt, ap);
	va_end(ap);
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -ECANCELED; // what libseccomp answers for a failed write
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int capture_export(const scmp_filter_ctx ctx, int fd)
{
	int mfd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	struct stat st;
	int rc;

	if (mfd < 0)
		return REAL(seccomp_export_bpf)(ctx, fd);
	rc = REAL(seccomp_export_bpf)(ctx, mfd);
	if (rc == 0 && fstat(mfd, &st) == 0 && st.st_size > 0) {
		unsigned char *p = malloc((size_t)st.st_size);
		if (p != NULL && pread(mfd, p, (size_t)st.st_size, 0) == st.st_size) {
			free(captured_log.p);
			free(captured_bpf.p);
			captured_log = rec_log;
			memset(&rec_log, 0, sizeof(rec_log));
			captured_bpf = (struct buf){.p = p, .len = (size_t)st.st_size, .cap = (size_t)st.st_size};
			captured = 1;
			p = NULL;
			rc = write_all(fd, captured_bpf.p, captured_bpf.len);
		} else {
			rc = -ECANCELED;
		}
		free(p);
	}
	close(mfd);
	return rc;
}

int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (!rec_active || ctx != rec_ctx) {
		pthread_mutex_unlock(&mu);
		return REAL(seccomp_export_bpf)(ctx, fd);
	}
	if (mode == MODE_LOOKUP && deferring) {
		for (int i = 0; i < nentries; i++) {
			if (candidate[i] && entries[i].log_len == rec_log.len) {
				// A prefix of the same length is the whole log.
				rc = write_all(fd, entries[i].bpf, entries[i].bpf_len);
				pthread_mutex_unlock(&mu);
				return rc;
			}
		}
	}
	if (mode == MODE_CAPTURE) {
		rc = capture_export(ctx, fd);
		rec_active = 0;
		pthread_mutex_unlock(&mu);
		return rc;
	}
	rc = stop_recording(ctx);
	pthread_mutex_unlock(&mu);
	return rc ?: REAL(seccomp_export_bpf)(ctx, fd);
}

// Calls that change or use the context in ways the log does not follow:
// the deferred rules go to libseccomp first and recording stops.
#define STOP_THEN(call)                          \
	do {                                     \
		int rc_;                         \
		pthread_mutex_lock(&mu);         \
		rc_ = stop_recording(ctx);       \
		pthread_mutex_unlock(&mu);       \
		if (rc_ != 0)                    \
			return rc_;              \
		return call;                     \
	} while (0)

int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token)
{
	STOP_THEN(REAL(seccomp_arch_add)(ctx, arch_token));
}

int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token)
{
	STOP_THEN(REAL(seccomp_arch_remove)(ctx, arch_token));
}

int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
{
	STOP_THEN(REAL(seccomp_attr_set)(ctx, attr, value));
}

int seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority)
{
	STOP_THEN(REAL(seccomp_syscall_priority)(ctx, syscall, priority));
}

int seccomp_load(const scmp_filter_ctx ctx)
{
	STOP_THEN(REAL(seccomp_load)(ctx));
}

int seccomp_export_pfc(const scmp_filter_ctx ctx, int fd)
{
	STOP_THEN(REAL(seccomp_export_pfc)(ctx, fd));
}

int seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action)
{
	STOP_THEN(REAL(seccomp_reset)(ctx, def_action));
}

int seccomp_merge(scmp_filter_ctx ctx_dst, scmp_filter_ctx ctx_src)
{
	int rc;

	pthread_mutex_lock(&mu);
	rc = stop_recording(ctx_dst);
	rc = rc ?: stop_recording(ctx_src);
	pthread_mutex_unlock(&mu);
	return rc ?: REAL(seccomp_merge)(ctx_dst, ctx_src);
}

void seccomp_release(scmp_filter_ctx ctx)
{
	pthread_mutex_lock(&mu);
	if (ctx == rec_ctx)
		rec_reset();
	pthread_mutex_unlock(&mu);
	REAL(seccomp_release)(ctx);
}

// load_entry reads one cache file: "HSC1", the log length, the program
// length (both uint32), the log, the program.
static void load_entry(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char *p = NULL;
	struct stat st;
	uint32_t hdr[3];

	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) ||
	    st.st_size < (off_t)sizeof(hdr) || st.st_size > MAX_ENTRY_FILE)
		goto out;
	p = malloc((size_t)st.st_size);
	if (p == NULL || pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
		goto out;
	memcpy(hdr, p, sizeof(hdr));
	if (hdr[0] != SECCOMPCACHE_MAGIC || (uint64_t)hdr[1] + hdr[2] + sizeof(hdr) != (uint64_t)st.st_size ||
	    hdr[2] == 0 || hdr[2] % 8 != 0)
		goto out;
	entries[nentries] = (struct entry){
		.log = p + sizeof(hdr), .log_len = hdr[1],
		.bpf = p + sizeof(hdr) + hdr[1], .bpf_len = hdr[2],
	};
	nentries++;
	p = NULL;
out:
	free(p);
	close(fd);
}

// The container's init (and an exec's setns init) is this binary started
// by libcontainer with _LIBCONTAINER_INITPIPE set. This runs before
// libcontainer's nsexec constructor (priority 101 runs first), so it is
// still the runtime's own process on the host, as root: it reads the
// cache, which only root can write, into memory and keeps no descriptor.
__attribute__((constructor(101))) static void seccompcache_load(void)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int dfd;

	if (getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	dfd = open(SECCOMPCACHE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return;
	if (fstat(dfd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(dfd);
		return;
	}
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	while (nentries < SECCOMPCACHE_MAX_ENTRIES && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".bpfc") == 0)
			load_entry(dfd, de->d_name);
	}
	closedir(d);
	if (nentries > 0)
		mode = MODE_LOOKUP;
}

void seccompcache_capture_begin(void)
{
	pthread_mutex_lock(&mu);
	rec_reset();
	mode = MODE_CAPTURE;
	captured = 0;
	pthread_mutex_unlock(&mu);
}

int seccompcache_capture_result(const unsigned char **log, size_t *log_len, const unsigned char **bpf,
				size_t *bpf_len)
{
	pthread_mutex_lock(&mu);
	*log = captured_log.p;
	*log_len = captured_log.len;
	*bpf = captured_bpf.p;
	*bpf_len = captured_bpf.len;
	pthread_mutex_unlock(&mu);
	return captured;
}
