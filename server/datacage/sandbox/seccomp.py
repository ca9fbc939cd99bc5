"""The seccomp filter of the sandbox, compiled to BPF for ``bwrap --seccomp FD``.

Everything is allowed except what an algorithm that reads files and writes Turtle never needs
and an attacker would: sockets of every family (a network namespace stops TCP, not Unix
sockets on a shared path), and the syscalls that reach the kernel's larger attack surface or
other processes. Refused calls fail with EPERM rather than killing the process, so the
algorithm sees an ordinary ``PermissionError`` and its log says what it tried.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache

import pyseccomp

# Each name is refused with EPERM. Grouped by why.
REFUSED_SYSCALLS: tuple[str, ...] = (
    # No network and no local IPC endpoints: a socket of any family is refused. socketpair
    # stays: its two ends are joined to each other only, and asyncio's event loop needs one.
    "socket",
    # Other processes and their memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    # The file system tree and namespaces stay as bubblewrap left them.
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "open_by_handle_at",
    "name_to_handle_at",
    # Large or privileged kernel interfaces.
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "userfaultfd",
    "perf_event_open",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "vhangup",
    "personality",
)

# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)


@lru_cache(maxsize=1)
def filter_bpf() -> bytes:
    """The compiled filter for this machine's architecture (other ABIs are killed)."""
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    refuse = pyseccomp.ERRNO(errno.EPERM)
    for name in REFUSED_SYSCALLS:
        try:
            rules.add_rule(refuse, name)
        except OSError:  # a syscall this kernel or libseccomp does not know cannot be called
            continue
    # fork and threads stay possible; new namespaces through clone do not.
    for flag in _NAMESPACE_FLAGS:
        rules.add_rule(refuse, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back
    # to clone, which the rules above do see.
    rules.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    reader, writer = os.pipe()
    try:
        with os.fdopen(writer, "wb", closefd=True) as out:
            rules.export_bpf(out)
        with os.fdopen(reader, "rb", closefd=False) as source:
            return source.read()
    finally:
        os.close(reader)
