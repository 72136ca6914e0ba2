//go:build linux && amd64 && cgo

#include <elf.h>
#include <stddef.h>

// oneproc_added is set when the entry point added GOMAXPROCS=1.
int oneproc_added;

static const char oneproc_setting[] = "GOMAXPROCS=1";

// The kernel's initial stack, as the Go runtime reads it: the environment
// and the auxiliary vector right after argv's NULL.
struct initial_stack {
	long argc;
	char **argv;
	char **envp;
	size_t nenv;
	Elf64_auxv_t *auxv;
	size_t naux; // with the AT_NULL entry
};

static int is_gomaxprocs(const char *kv)
{
	const char *name = "GOMAXPROCS=";
	for (; *name != '\0'; name++, kv++)
		if (*kv != *name)
			return 0;
	return 1;
}

// scan reads sp; it returns 0 when the environment sets a non-empty
// GOMAXPROCS, which stays the operator's choice.
static int scan(long *sp, struct initial_stack *in)
{
	in->argc = sp[0];
	in->argv = (char **)(sp + 1);
	in->envp = in->argv + in->argc + 1;
	for (in->nenv = 0; in->envp[in->nenv] != NULL; in->nenv++) {
		const char *kv = in->envp[in->nenv];
		if (is_gomaxprocs(kv) && kv[sizeof("GOMAXPROCS=") - 1] != '\0')
			return 0;
	}
	in->auxv = (Elf64_auxv_t *)(in->envp + in->nenv + 1);
	for (in->naux = 0; in->auxv[in->naux].a_type != AT_NULL; in->naux++)
		;
	in->naux++;
	return 1;
}

// oneproc_max_copy bounds the copy made on the stack: no runtime command
// has thousands of arguments or variables, and a larger vector is left as
// the kernel built it.
#define oneproc_max_copy (64 << 10)

// oneproc_stack_size returns the bytes of the vector with GOMAXPROCS=1
// added, or 0 to keep the kernel's. It runs before libc is initialized:
// no libc calls.
size_t oneproc_stack_size(long *sp)
{
	struct initial_stack in;
	if (!scan(sp, &in))
		return 0;
	size_t size = (1 + (size_t)in.argc + 1 + in.nenv + 2) * sizeof(long) + in.naux * sizeof(Elf64_auxv_t);
	return size <= oneproc_max_copy ? size : 0;
}

// oneproc_stack_fill writes that vector at dst: argc, argv, NULL, the
// environment without any empty GOMAXPROCS, GOMAXPROCS=1, NULL, auxv.
void oneproc_stack_fill(long *sp, long *dst)
{
	struct initial_stack in;
	scan(sp, &in);
	dst[0] = in.argc;
	char **out = (char **)(dst + 1);
	for (long i = 0; i <= in.argc; i++)
		*out++ = in.argv[i];
	for (size_t i = 0; i < in.nenv; i++)
		if (!is_gomaxprocs(in.envp[i]))
			*out++ = in.envp[i];
	*out++ = (char *)oneproc_setting;
	*out++ = NULL;
	Elf64_auxv_t *aux = (Elf64_auxv_t *)out;
	for (size_t i = 0; i < in.naux; i++)
		aux[i] = in.auxv[i];
	oneproc_added = 1;
}
