// Package learn records the system calls a container makes into a
// per-workload profile and narrows a later container's seccomp filter to
// what its workload was seen to use.
//
// The mechanism is the OCI seccomp notify listener (linux.seccomp's
// listenerPath), which libcontainer supports: the container's filter
// returns SECCOMP_RET_USER_NOTIF for the calls to watch, libcontainer
// hands the filter's notification fd to a unix socket, and a recorder
// process answers each notification.
//
//   - Learn: every rule of the container's profile that allows becomes a
//     notify rule (denials stay; write stays allowed, libcontainer's init
//     needs it to pass the fd). The recorder answers each notification
//     with SECCOMP_USER_NOTIF_FLAG_CONTINUE (the kernel runs the call as
//     the filter would have allowed it) and records the call's name and,
//     for the calls the profile filters by argument, the argument values.
//     When the container's last process is gone it merges what it saw
//     into the workload's profile file (Store), under a lock.
//   - Enforce: rules that allow a call the learned profile lacks (by name,
//     and for argument-filtered rules by a recorded value the rule
//     accepts) become notify rules; the recorder answers those with EPERM
//     and writes one audit record per container and system call. Calls
//     outside the policy's profile fail as before. The result is never
//     wider than the policy's profile: only allowing rules are touched,
//     and only to deny.
//
// The recorder is this binary re-executed with RecorderArg, detached in
// its own session. Syscalls made by libcontainer's init between loading
// the filter and execve are notified as well, so the learned profile
// covers them too (enforcing needs them).
package learn
