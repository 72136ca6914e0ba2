#ifndef USERNSPROBE_H
#define USERNSPROBE_H
// The hidden first argument of the helper (ProbeArg in Go).
#define USERNSPROBE_ARG "__hardened-userns-probe"
#endif
