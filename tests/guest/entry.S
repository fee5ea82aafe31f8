/* Multiboot (v1) entry: header, own GDT, stack, zeroed .bss, then C. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002          /* ask for mem_lower/mem_upper + mmap */

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .text
        .globl _start
        .type _start, @function
_start:
        cli
        cld
        /* Multiboot says GDTR may be bogus: load our own so segment
         * reloads (and anything that reads the GDT later) are safe. */
        lgdt gdt_desc
        ljmp $0x08, $1f
1:      mov $0x10, %cx
        mov %cx, %ds
        mov %cx, %es
        mov %cx, %fs
        mov %cx, %gs
        mov %cx, %ss
        mov $stack_top, %esp
        mov %eax, %edx                  /* keep the bootloader magic */
        /* Zero .bss in asm: a C loop could be turned into a memset call. */
        mov $__bss_start, %edi
        mov $__bss_end, %ecx
        sub %edi, %ecx
        shr $2, %ecx
        xor %eax, %eax
        rep stosl
        push %ebx                       /* multiboot info */
        push %edx                       /* magic */
        call guest_main
2:      hlt
        jmp 2b
        .size _start, . - _start

        .data
        .balign 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        /* 0x08: flat 32-bit code */
        .quad 0x00CF92000000FFFF        /* 0x10: flat 32-bit data */
gdt_desc:
        .word gdt_desc - gdt - 1
        .long gdt

        .bss
        .balign 16
        .skip 16384
stack_top:

        .section .note.GNU-stack, "", @progbits
