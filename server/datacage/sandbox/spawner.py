"""The sandbox launcher: a small helper process that starts each run's bubblewrap for the worker.

Run as ``python -I -S -B spawner.py FD`` (standard library only, no environment, nothing of
the worker's memory: it is exec'd, not forked). Why it exists: the last steps before
``exec bwrap`` (a private mount namespace, the staged binds, rlimits, dropping to the run's
uid) need a forked child, and forking the big worker copies its page tables and then faults
in every page either side writes until the exec: on this machine ~15-25 ms per run. Forked
from this small process the same steps cost well under a millisecond.

Protocol, one request at a time on a SOCK_SEQPACKET socket (``FD``): the worker sends one
JSON message with the descriptors it names attached (SCM_RIGHTS), the first of them its *go
socket*, shared with the worker alone. The launcher clones a child *with CLONE_PARENT*, so the
child is the worker's own child (the worker waits for it, reads its resource use, and bwrap's
``--die-with-parent`` follows the worker, not this helper), closes its copies of the run's
descriptors and waits for the next request: it answers nothing itself. The child first
writes its pid on the go socket (so the worker can always reap it, whatever becomes of the
launcher), makes the mounts, sets the limits, drops to the run's uid, moves the descriptors
the sandbox gets to fixed numbers and marks every other one close-on-exec, and execs bwrap:
the go socket closing at that exec is how the worker learns bwrap started; words on it
before the end say why not. If no child could be made, the launcher writes why on the go
socket; if the launcher dies before cloning, the go socket just ends, and the worker tries
again on a new launcher. The launcher's socket never reaches a sandbox.

The launcher holds no secrets; a run's descriptors (its pipes and the mount descriptors of
its file systems) pass through it for the length of one launch and are closed right after.
Each run is a fresh child with fresh namespaces: nothing is reused between runs.
"""

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import sys

_CLONE_NEWNS, _CLONE_PARENT = 0x00020000, 0x00008000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
# clone differs per architecture; the new mount API and close_range do not (Linux 5.2+).
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}
_OPEN_TREE, _MOVE_MOUNT, _CLOSE_RANGE, _CLOSE_RANGE_CLOEXEC = 428, 429, 436, 4
_OPEN_TREE_CLONE, _OPEN_TREE_CLOEXEC, _AT_EMPTY_PATH = 1, 0o2000000, 0x1000
_MOVE_MOUNT_F_EMPTY_PATH, _AT_FDCWD = 0x4, -100
_MAX_REQUEST, _MAX_FDS = 1 << 20, 32
_CHILD_FAILED = 127

# The GIL stays held across these calls (PyDLL): the raw clone must return into a process
# that is an exact copy, with no other thread and no lock half-taken.
_libc = ctypes.PyDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_mount, _unshare = _libc.mount, _libc.unshare


def _check(result, what):
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")
    return result


def _attach(fd, target):
    """Attach a clone of the detached mount ``fd`` at ``target`` (this namespace only)."""
    flags = _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_EMPTY_PATH
    tree = _check(_syscall(_OPEN_TREE, fd, b"", flags), "open_tree")
    try:
        moved = _syscall(_MOVE_MOUNT, tree, b"", _AT_FDCWD, target, _MOVE_MOUNT_F_EMPTY_PATH)
        _check(moved, "move_mount")
    finally:
        os.close(tree)


def _prepare(request, fds):
    """In the child: the steps ``launch.preexec`` makes, from the plan in ``request``."""
    os.setsid()  # one process group for the worker to kill on the wall clock
    _check(_unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make mounts private")
    stage = request["stage"].encode()
    options = b"mode=0755,size=1m"
    _check(_mount(b"sandbox", stage, b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "tmpfs")
    for index, target in request["attach"]:
        os.mkdir(target, 0o755)
        _attach(fds[index], target.encode())
    for source, target, is_dir in request["binds"]:
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if is_dir:
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o444))
        _check(_mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None), "bind")
    for which, soft, hard in request["rlimits"]:
        resource.setrlimit(which, (soft, hard))
    os.setgroups([])
    os.setresgid(request["gid"], request["gid"], request["gid"])
    os.setresuid(request["uid"], request["uid"], request["uid"])


def _arrange(request, fds):
    """Move the descriptors the sandbox gets to their numbers; every other one closes at exec."""
    null = os.open("/dev/null", os.O_RDONLY)
    wanted = [(null, 0)] + [(fds[index], number) for index, number in request["fds"]]
    # First above every target, so that moving one never overwrites another still to move.
    high = [(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 256), number) for fd, number in wanted]
    for fd, number in high:
        os.dup2(fd, number, inheritable=True)
    last = max(number for _, number in wanted)
    # Marked close-on-exec rather than closed: the go socket must stay open until the exec,
    # whose closing it is how the worker learns that bwrap started.
    _check(_syscall(_CLOSE_RANGE, last + 1, 0xFFFFFFFF, _CLOSE_RANGE_CLOEXEC), "close_range")
    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec, and
    # the file-size limit must stop the algorithm, as it does any other program.
    for number in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)


def _child(request, fds, sock_fd):
    """The launched child: tell the worker its pid, prepare, exec bwrap (or say why not)."""
    # The launcher's socket is no business of the sandbox's, and the worker must see the
    # launcher's end of it close if the launcher dies.
    os.close(sock_fd)
    go = -1
    try:
        go = fcntl.fcntl(fds[request["go"]], fcntl.F_DUPFD_CLOEXEC, 256)  # above the targets
        os.write(go, f"{os.getpid()}\n".encode())  # first: the worker can always reap us
        _prepare(request, fds)
        _arrange(request, fds)
        argv = request["argv"]
        os.execve(argv[0], argv, {})  # noqa: S606 - bwrap, its arguments built by the worker
    except BaseException as error:  # told to the worker in words; nothing ran
        if go >= 0:
            with contextlib.suppress(OSError):
                os.write(go, f"{type(error).__name__}: {error}".encode()[:4000])
    os._exit(_CHILD_FAILED)


def _launch(request, fds, clone_number, sock_fd):
    """Clone the child (it carries on alone) or raise OSError."""
    pid = _syscall(clone_number, _CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        _child(request, fds, sock_fd)
    if pid < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"clone: {os.strerror(number)}")


def serve(sock, clone_number):
    """One request at a time. Nothing is answered here: the worker hears from the child on
    the go socket (its pid, then the end of the socket at exec, or why it failed), or from
    here on that socket if no child could be made."""
    sock.send(b"ready")
    while True:
        message, fds, flags, _ = socket.recv_fds(
            sock, _MAX_REQUEST, _MAX_FDS, socket.MSG_CMSG_CLOEXEC
        )
        if not message:
            return  # the worker is gone
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or not fds:
                raise ValueError("the launch request was cut short")
            _launch(json.loads(message), fds, clone_number, sock.fileno())
        except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
            if fds:
                with contextlib.suppress(OSError):
                    os.write(fds[0], f"{type(error).__name__}: {error}".encode()[:4000])
        finally:
            for fd in fds:  # the child has its copies; nothing of the run stays here
                os.close(fd)


def main():
    machine = os.uname().machine
    clone_number = _SYS_CLONE.get(machine)
    sock = socket.socket(fileno=int(sys.argv[1]))
    if clone_number is None:
        sock.send(f"error: the sandbox launcher does not know clone on {machine}".encode())
        return
    try:
        serve(sock, clone_number)
    except (BrokenPipeError, ConnectionResetError):
        return


if __name__ == "__main__":
    main()
