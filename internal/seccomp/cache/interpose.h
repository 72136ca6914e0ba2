#ifndef HARDENED_SECCOMPCACHE_INTERPOSE_H
#define HARDENED_SECCOMPCACHE_INTERPOSE_H

#include <stddef.h>

// SECCOMPCACHE_DIR is where compiled filters are kept (root-only).
#define SECCOMPCACHE_DIR "/run/hardened-seccomp"

// SECCOMPCACHE_MAX_ENTRIES is how many entries the directory keeps and an
// init reads.
#define SECCOMPCACHE_MAX_ENTRIES 32

// SECCOMPCACHE_MAGIC ("HSC1") opens an entry file and a recorded log.
#define SECCOMPCACHE_MAGIC 0x31435348u

// seccompcache_capture_begin makes the next filter built in this process
// recorded: its calls and the program libseccomp exports for it.
void seccompcache_capture_begin(void);

// seccompcache_capture_result returns what was captured (pointers stay
// owned by the interposer) and whether anything was.
int seccompcache_capture_result(const unsigned char **log, size_t *log_len,
				const unsigned char **bpf, size_t *bpf_len);

#endif
