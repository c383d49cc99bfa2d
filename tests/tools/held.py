#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Runs a program held stopped right after its exec, so that a probe can be
# attached before it runs any of its code (its /proc/PID/exe is already the
# program): PTRACE_TRACEME, then exec. Prints the program's pid, waits for a
# line on stdin, lets it run (PTRACE_DETACH), and prints "exit=N" with its
# exit status when it ends.
#
#   held.py PROGRAM [ARGS...]
import ctypes
import os
import sys

PTRACE_TRACEME = 0
PTRACE_DETACH = 17

libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    libc.ptrace(PTRACE_TRACEME, 0, None, None)  # stops at exec
    os.execv(sys.argv[1], sys.argv[1:])
os.waitpid(pid, os.WUNTRACED)
print(pid, flush=True)
sys.stdin.readline()
libc.ptrace(PTRACE_DETACH, pid, None, None)
_, status = os.waitpid(pid, 0)
print("exit=%d" % (os.waitstatus_to_exitcode(status)), flush=True)
