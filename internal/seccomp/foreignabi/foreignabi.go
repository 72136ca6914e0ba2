//go:build linux && cgo && seccomp

package foreignabi

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <seccomp.h>

scmp_filter_ctx seccomp_init(uint32_t def_action)
{
	static scmp_filter_ctx (*next)(uint32_t);
	scmp_filter_ctx ctx;

	if (next == NULL)
		next = (scmp_filter_ctx (*)(uint32_t))dlsym(RTLD_NEXT, "seccomp_init");
	if (next == NULL)
		return NULL;
	ctx = next(def_action);
	if (ctx == NULL)
		return NULL;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)) != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static uint32_t foreignabi_badarch(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	uint32_t act = 0;

	if (ctx == NULL)
		return 0;
	if (seccomp_attr_get(ctx, SCMP_FLTATR_ACT_BADARCH, &act) != 0)
		act = 0;
	seccomp_release(ctx);
	return act;
}
*/
import "C"

// badArchAction returns the bad-architecture action of a new filter (for
// the test).
func badArchAction() uint32 { return uint32(C.foreignabi_badarch()) }
