//go:build amd64

package integration

// The native-ABI seccomp profile seen from inside the container: a 64-bit
// program makes getpid through the 32-bit ABI (int 0x80) and compares the
// answer with the native getpid.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// int80Source exits 0 when the i386 getpid (20, through int 0x80) answers
// what the x86_64 getpid (39) does, and otherwise exits with the low byte
// of its answer: 218 for -ENOSYS. A kill by SIGSYS shows as exit 159 from
// the runtime; a kernel without an ia32 entry (ia32_emulation=0, or a
// hypervisor without it) raises SIGSEGV at the int 0x80 (exit 139).
const int80Source = `
	.globl _start
_start:
	mov $39, %eax
	syscall
	mov %eax, %ebx
	mov $20, %eax
	int $0x80
	xor %edi, %edi
	cmp %eax, %ebx
	je 1f
	mov %eax, %edi
1:
	mov $60, %eax
	syscall
`

// x32Source makes getpid through the x32 ABI (bit 30 of the syscall
// number set) and exits as int80Source does. Kernels built without
// CONFIG_X86_X32_ABI (Debian's) answer ENOSYS themselves, so here only a
// kill tells the filter's answer apart.
const x32Source = `
	.globl _start
_start:
	mov $39, %eax
	syscall
	mov %eax, %ebx
	mov $0x40000027, %eax
	syscall
	xor %edi, %edi
	cmp %eax, %ebx
	je 1f
	mov %eax, %edi
1:
	mov $60, %eax
	syscall
`

const (
	exitAllowed = 0
	exitENOSYS  = 256 - 38
	exitSIGSEGV = 128 + 11
	exitSIGSYS  = 128 + 31
)

// abiBundle assembles src with binutils into <rootfs>/abi and returns a
// bundle running it.
func abiBundle(t *testing.T, src string) *testutil.Bundle {
	t.Helper()
	for _, tool := range []string{"as", "ld"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: apt-get install binutils", tool)
		}
	}
	b := testutil.NewBundle(t, "/abi")
	dir := t.TempDir()
	asm, obj := filepath.Join(dir, "abi.s"), filepath.Join(dir, "abi.o")
	if err := os.WriteFile(asm, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"as", "--64", "-o", obj, asm},
		{"ld", "-static", "-o", filepath.Join(b.Rootfs, "abi"), obj},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return b
}

// runABI runs the bundle under a fresh ID and returns the exit status the
// runtime reports.
func runABI(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, global ...string) int {
	t.Helper()
	args := append(append([]string{}, global...), "run", "--bundle", b.Dir, rt.NewID())
	_, errOut, exit := rt.Run(args...)
	switch exit {
	case exitAllowed, exitENOSYS, exitSIGSEGV, exitSIGSYS:
	default:
		t.Fatalf("%v: exit %d, not one of the program's answers\nstderr: %s", args, exit, errOut)
	}
	return exit
}

func TestNativeABIOnly(t *testing.T) {
	rt := testutil.NewRuntime(t)
	off, _ := testutil.WritePolicy(t, `{"mode": "off"}`)
	allow, _ := testutil.WritePolicy(t, `{"allow32bit": true}`)

	t.Run("int80", func(t *testing.T) {
		// Without seccomp the kernel must run the 32-bit syscall;
		// otherwise there is nothing to deny.
		if exit := runABI(t, rt, abiBundle(t, int80Source), off); exit != exitAllowed {
			t.Skipf("mode off, no seccomp: int 0x80 getpid exits %d; this kernel offers no ia32 syscall entry", exit)
		}
		b := abiBundle(t, int80Source)
		if exit := runABI(t, rt, b); exit != exitENOSYS {
			t.Errorf("default policy: int 0x80 getpid exit %d, want %d (ENOSYS; 159 is a SIGSYS kill, 0 allowed)", exit, exitENOSYS)
		}
		if exit := runABI(t, rt, abiBundle(t, int80Source), allow); exit != exitAllowed {
			t.Errorf("allow32bit: int 0x80 getpid exit %d, want 0 (allowed)", exit)
		}
	})

	t.Run("x32", func(t *testing.T) {
		b := abiBundle(t, x32Source)
		if exit := runABI(t, rt, b); exit != exitENOSYS {
			t.Errorf("default policy: x32 getpid exit %d, want %d (ENOSYS, not a SIGSYS kill)", exit, exitENOSYS)
		}
		got := readSpec(t, b.ConfigPath()).Linux.Seccomp.Architectures
		if len(got) != 1 || got[0] != specs.ArchX86_64 {
			t.Errorf("hardened config.json: seccomp architectures %v, want [SCMP_ARCH_X86_64]", got)
		}
		if exit := runABI(t, rt, abiBundle(t, x32Source), allow); exit == exitSIGSYS {
			t.Errorf("allow32bit: x32 getpid killed (SIGSYS)")
		}
	})

	// A caller's profile that names only x86_64, under mode off: runc
	// kills the thread; hardened answers ENOSYS.
	t.Run("mode-off-caller-profile-native-only", func(t *testing.T) {
		b := abiBundle(t, x32Source)
		b.Edit(t, func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}},
			}
		})
		if exit := runABI(t, rt, b, off); exit != exitENOSYS {
			t.Errorf("mode off, caller profile for x86_64 only: x32 getpid exit %d, want %d (ENOSYS)", exit, exitENOSYS)
		}
	})
}
