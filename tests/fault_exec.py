"""Run a command under a real OS-level fault, applied to this process and kept across exec.

    python tests/fault_exec.py [--fsize BYTES] [--fail-fsync ERRNO] [--no-dac-override]
                               -- PROGRAM ARGS...

* ``--fsize``: RLIMIT_FSIZE with SIGXFSZ ignored, so a write past BYTES fails with EFBIG
  (what a file system's size limit or a full quota of file size gives);
* ``--fail-fsync``: a seccomp filter makes fsync/fdatasync fail with that errno (EIO: how a
  failing disk reports lost buffered writes; ENOSPC on delayed-allocation file systems);
* ``--no-dac-override``: drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the
  bounding set, so root obeys file permissions after exec (a read-only folder gives EACCES).

The faults are set up here, in the child, and survive ``execv``, so the test process itself
is never touched (no preexec_fn in a threaded pytest).
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import platform
import resource
import signal
import struct
import sys

PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 24, 38, 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
# (audit arch, fsync, fdatasync) per machine
SYSCALLS = {"x86_64": (0xC000003E, 74, 75), "aarch64": (0xC00000B7, 82, 83)}
DAC_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER

libc = ctypes.CDLL(None, use_errno=True)


def supported() -> bool:
    return sys.platform.startswith("linux") and platform.machine() in SYSCALLS


def _prctl(option: int, *args: int) -> None:
    if libc.prctl(ctypes.c_int(option), *(ctypes.c_ulong(a) for a in args)) != 0:
        raise OSError(ctypes.get_errno(), "prctl failed")


def fail_fsync(code: int) -> None:
    """Install a seccomp filter: fsync and fdatasync return -code, every other call runs."""
    arch, fsync, fdatasync = SYSCALLS[platform.machine()]
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 0, 3, arch),  # another arch: allow
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (BPF_JEQ_K, 2, 0, fsync),
        (BPF_JEQ_K, 1, 0, fdatasync),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | code),
    ]
    filters = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in program))
    fprog = struct.pack("HP", len(program), ctypes.addressof(filters))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--fail-fsync", choices=sorted(errno.errorcode.values()))
    parser.add_argument("--no-dac-override", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    if args.no_dac_override and os.geteuid() == 0:
        for cap in DAC_CAPS:
            _prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if args.fail_fsync:
        fail_fsync(getattr(errno, args.fail_fsync))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
