// hardenedentry is the program's entry point (-e): it runs before libc's
// _start, on the stack the kernel built (argc, argv, NULL, envp, NULL,
// auxv), after the dynamic linker has relocated the program. When
// oneproc_stack_size says so it builds a copy of that vector below it, with
// GOMAXPROCS=1 in the environment, and enters _start on the copy.

	.text
	.globl	hardenedentry
	.type	hardenedentry, @function
hardenedentry:
	mov	%rdx, %r12		// the dynamic linker's fini function, for _start
	mov	%rsp, %r13		// the kernel's vector; rsp is 16-byte aligned here
	mov	%r13, %rdi
	call	oneproc_stack_size
	test	%rax, %rax
	jz	1f
	sub	%rax, %rsp
	and	$-16, %rsp
	mov	%rsp, %rsi
	mov	%r13, %rdi
	call	oneproc_stack_fill
	jmp	2f
1:	mov	%r13, %rsp
2:	mov	%r12, %rdx
	xor	%ebp, %ebp
	jmp	_start
	.size	hardenedentry, .-hardenedentry

	.section .note.GNU-stack,"",@progbits
