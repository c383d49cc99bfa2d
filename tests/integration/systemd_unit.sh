#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# deploy/systemd/katatrace-bpf.service, without starting it (no unit is
# started, nothing under /etc is touched):
#  - its capability bounding set is exactly the broker's capabilities (as
#    user/daemon/broker.c keeps them and user/daemon/broker.h lists them)
#    and the four start-up needs, each still used where the unit says, each
#    a capability of linux/capability.h;
#  - the paths it makes writable are the ones the code writes: Kata's
#    sandbox directories (sandbox/kata_dirs.h, made first by ExecStartPre),
#    the file systems it mounts (capture/attach.c), the control socket's
#    directory (control/control_wire.h);
#  - installed (make install PREFIX=...), `systemd-analyze verify` finds
#    nothing to say, where systemd-analyze is installed;
#  - its ExecStart command line, with KATATRACE_BPF_OPTIONS unset and as the
#    example environment file sets it, parses with the installed binary;
#  - the daemon runs under that bounding set and no_new_privs (setpriv): it
#    attaches, finds a hypervisor already running, drops to nobody and exits
#    0; without CAP_SYS_PTRACE it does not find the hypervisor, without
#    CAP_SETPCAP, CAP_SETUID or CAP_SETGID it cannot drop its privileges.
. "$(dirname "$0")/lib.sh"
UNIT_SRC=$ROOT_DIR/deploy/systemd/katatrace-bpf.service
ENV_EXAMPLE=$ROOT_DIR/deploy/systemd/katatrace-bpf.default
CAP_H=/usr/include/linux/capability.h

# The value of KEY in a unit, every line of it joined by spaces.
unit_values() { # unit key
	sed -n "s/^$2=//p" "$1" | tr '\n' ' ' | sed 's/ *$//'
}
words() { tr ' ' '\n' | sed '/^$/d' | sort -u; }
same_set() { # description set1 set2 (newline separated)
	if [ "$2" = "$3" ]; then return 0; fi
	echo "    $1: only in the first: $(comm -23 <(echo "$2") <(echo "$3") | tr '\n' ' ')"
	echo "    $1: only in the second: $(comm -13 <(echo "$2") <(echo "$3") | tr '\n' ' ')"
	return 1
}

# ------------------------------------------------------------ capabilities
log "the capability bounding set: the broker's, and what start-up needs"
UNIT_CAPS=$(unit_values "$UNIT_SRC" CapabilityBoundingSet | words)
# What the broker keeps, in the code...
BROKER_CAPS=$(sed -n '/static const int keep\[\] = {/,/};/p' "$ROOT_DIR/user/daemon/broker.c" |
	grep -oE 'CAP_[A-Z_]+' | sort -u)
# ... and in its documentation (the paragraph "It keeps uid 0 with only ...").
BROKER_DOC=$(sed -n '/It keeps uid 0 with only/,/no_new_privs/p' "$ROOT_DIR/user/daemon/broker.h" |
	grep -oE 'CAP_[A-Z_]+' | sort -u)
# Start-up, before the daemon drops to nobody: setresuid/setresgid, emptying
# the bounding set, reading /proc/PID/exe of hypervisors already running.
START_CAPS=$(printf '%s\n' CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_SYS_PTRACE | sort -u)
check "the broker keeps nine capabilities (broker.c)" [ "$(echo "$BROKER_CAPS" | wc -l)" = 9 ]
check "broker.h lists the ones broker.c keeps" same_set "broker.h vs broker.c" "$BROKER_DOC" "$BROKER_CAPS"
check "the unit's bounding set is the broker's and start-up's" \
	same_set "unit vs broker + start-up" "$UNIT_CAPS" "$(printf '%s\n%s\n' "$BROKER_CAPS" "$START_CAPS" | sort -u)"
known_caps() {
	local c
	for c in $UNIT_CAPS; do
		grep -qE "^#define $c[[:space:]]+[0-9]+" "$CAP_H" || { echo "    $c: not in $CAP_H"; return 1; }
	done
}
if [ -f "$CAP_H" ]; then
	check "every capability named is one of linux/capability.h" known_caps
fi
# Each start-up need still comes from the code the unit names.
check "start-up: CAP_SETUID and CAP_SETGID to become --user (privdrop.c)" \
	grep -q 'set_caps((const int\[\]){ CAP_SETUID, CAP_SETGID }' "$ROOT_DIR/user/daemon/privdrop.c"
check "start-up: CAP_SETPCAP to empty the bounding set (privdrop.c)" \
	grep -q 'PR_CAPBSET_DROP' "$ROOT_DIR/user/daemon/privdrop.c"
check "start-up: CAP_SYS_PTRACE for /proc/PID/exe of running hypervisors (cmd_run.c, vm_capture.c)" \
	bash -c "grep -q 'kt_vm_scan_running(\"/proc\"' '$ROOT_DIR/user/daemon/cmd_run.c' &&
		grep -q '%s/%u/exe' '$ROOT_DIR/user/capture/vm_capture.c'"

# ------------------------------------------------------------ paths
log "what the unit makes writable is what the code writes"
RW=$(unit_values "$UNIT_SRC" ReadWritePaths | words)
kata_dir() { sed -n "s/^#define $1 \"\(.*\)\"/\1/p" "$ROOT_DIR/user/sandbox/kata_dirs.h"; }
KATA_DIRS=$(printf '%s\n' "$(kata_dir KT_KATA_GO_DIR)" "$(kata_dir KT_KATA_RS_DIR)" | sort -u)
MOUNTS=$(sed -n 's/^[[:space:]]*ensure_mounted("\([^"]*\)".*/-\1/p' "$ROOT_DIR/user/capture/attach.c" | sort -u)
check "ReadWritePaths: Kata's sandbox directories, and the mount points ('-': may be absent)" \
	same_set "ReadWritePaths vs the code" "$RW" "$(printf '%s\n%s\n' "$KATA_DIRS" "$MOUNTS" | sort -u)"
PRE=$(unit_values "$UNIT_SRC" ExecStartPre)
makes_kata_dirs() {
	[[ $PRE == "+mkdir -p -m 0750 "* ]] &&
		same_set "ExecStartPre vs kata_dirs.h" "$(echo "${PRE#+mkdir -p -m 0750 }" | words)" "$KATA_DIRS"
}
check "ExecStartPre makes the sandbox directories first, as Kata does (0750)" makes_kata_dirs
CONTROL_DIR=$(sed -n 's/^#define KT_CONTROL_SOCKET "\(.*\)\/[^/]*"$/\1/p' "$ROOT_DIR/user/control/control_wire.h")
check "StateDirectory: katatrace-bpf, root's alone, and the ExecStart's --spool-dir is in it" \
	[ "$(unit_values "$UNIT_SRC" StateDirectory)" = katatrace-bpf -a \
	"$(unit_values "$UNIT_SRC" StateDirectoryMode)" = 0700 -a \
	"$(unit_values "$UNIT_SRC" ExecStart | grep -o -- '--spool-dir=[^ ]*')" = --spool-dir=/var/lib/katatrace-bpf/spool ]
check "RuntimeDirectory: the control socket's directory ($CONTROL_DIR), root's alone" \
	[ "/run/$(unit_values "$UNIT_SRC" RuntimeDirectory)" = "$CONTROL_DIR" -a \
	"$(unit_values "$UNIT_SRC" RuntimeDirectoryMode)" = 0700 ]
check "KillMode=mixed: the daemon stops its broker itself" [ "$(unit_values "$UNIT_SRC" KillMode)" = mixed ]

# ------------------------------------------------------------ installed
log "installed with make install PREFIX=...: systemd-analyze verify, ExecStart"
P=$OUT/prefix
# -o: the binary the other tests use, never rebuilt here
env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$ROOT_DIR" -o katatrace-bpf install PREFIX="$P" \
	>"$OUT/install.log" 2>&1
check "make install PREFIX=$P" [ $? = 0 ]
UNIT=$P/lib/systemd/system/katatrace-bpf.service
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$UNIT" >"$OUT/verify.log" 2>&1
	check "systemd-analyze verify: exit 0" [ $? = 0 ]
	check "systemd-analyze verify: no warning" [ ! -s "$OUT/verify.log" ]
	sed 's/^/    /' "$OUT/verify.log"
else
	echo "  (no systemd-analyze here: the unit is not verified by systemd)"
fi

EXEC=$(unit_values "$UNIT" ExecStart)
starts_with() { [[ $1 == "$2"* ]]; }
unquoted() { [[ $1 != *[\"\']* ]]; }
check "ExecStart: the installed binary's run command" starts_with "$EXEC" "$P/bin/katatrace-bpf run "
check "ExecStart: nothing quoted (split on spaces here as systemd does)" unquoted "$EXEC"
# systemd's expansion of an unquoted $VAR: its value split on whitespace, nothing when unset.
exec_start() { # value of KATATRACE_BPF_OPTIONS, then what is appended
	local opts=$1 w args=()
	shift
	for w in $EXEC; do
		if [ "$w" = '$KATATRACE_BPF_OPTIONS' ]; then
			# shellcheck disable=SC2206
			args+=($opts)
		else
			args+=("$w")
		fi
	done
	"${args[@]}" "$@"
}
parses() { # options
	exec_start "$1" --help >"$OUT/help.out" 2>"$OUT/help.err" &&
		[ "$(head -n 1 "$OUT/help.out")" = "Usage: katatrace-bpf run [OPTIONS]" ] && [ ! -s "$OUT/help.err" ]
}
check "ExecStart parses, KATATRACE_BPF_OPTIONS unset (--help appended)" parses ""
EXAMPLE_OPTS=$(sed -n 's/^#KATATRACE_BPF_OPTIONS=//p' "$ENV_EXAMPLE")
example_parses() { [ -n "$EXAMPLE_OPTS" ] && parses "$EXAMPLE_OPTS"; }
check "ExecStart parses with the example environment file's options ($EXAMPLE_OPTS)" example_parses
exec_start "--no-such-option" --help >/dev/null 2>"$OUT/help.err"
check_exit "... and a bad option there is a usage error (the check can fail)" $? 2 "$OUT/help.err" \
	"katatrace-bpf run: unknown option '--no-such-option'"

# ------------------------------------------------------------ the daemon under that bounding set
log "the daemon under the unit's bounding set and no_new_privs"
RUN_ROOT=$OUT/r
SB=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mkdir -p "$RUN_ROOT/run/vc/vm/$SB" "$OUT/bin"
cp "$TOOLS/fake-vmm" "$OUT/bin/qemu-system-x86_64" || abort_test "setup: build/tools/fake-vmm (make tools)"
# A hypervisor running before the daemon starts, as root with every capability.
FAKE_VMM_SLEEP_MS=600000 "$OUT/bin/qemu-system-x86_64" -name "sandbox-$SB,debug-threads=on" &
VMM=$!
PIDS+=("$VMM")
bounding() { # capabilities to leave out...: setpriv's --bounding-set for the unit's set
	local c list=-all
	for c in $UNIT_CAPS; do
		[[ " $* " == *" $c "* ]] && continue
		c=${c#CAP_}
		list+=",+${c,,}"
	done
	echo "$list"
}
daemon_args=(run --mode tap --run-root "$RUN_ROOT" --exporter file --output "$OUT/spans.otlp.jsonl" --log-level debug)
launch_kt setpriv --bounding-set="$(bounding)" --no-new-privs "$KT" "${daemon_args[@]}" ||
	abort_test "the daemon did not start under the unit's bounding set"
check "it found the hypervisor already running (/proc/PID/exe)" \
	grep -q "vm: hypervisor qemu-system-x86_64 pid $VMM, sandbox $SB" "$OUT/kt.log"
check "it dropped to nobody, its broker kept what it needs" grep -q "running as nobody (uid 65534), no capabilities" "$OUT/kt.log"
check "no error" bash -c "! grep -qE '^[^ ]+ error: ' '$OUT/kt.log'"
stop_kt
check "exit status 0, the summary printed" [ "$KT_RC" = 0 -a -n "$SUMMARY" ]

launch_kt setpriv --bounding-set="$(bounding CAP_SYS_PTRACE)" --no-new-privs "$KT" "${daemon_args[@]}" ||
	abort_test "the daemon did not start without CAP_SYS_PTRACE"
check "without CAP_SYS_PTRACE: the running hypervisor is not found" \
	bash -c "! grep -q 'vm: hypervisor qemu-system-x86_64 pid $VMM' '$OUT/kt.log'"
stop_kt

fails_without() { # capability, message
	timeout 120 setpriv --bounding-set="$(bounding "$1")" --no-new-privs "$KT" "${daemon_args[@]}" \
		>/dev/null 2>"$OUT/kt-$1.log"
	check_exit "without $1: exit status 1, $2" $? 1 "$OUT/kt-$1.log" "$2"
}
fails_without CAP_SETPCAP "cannot drop privileges: cannot drop capability"
fails_without CAP_SETUID "cannot drop privileges: cannot become uid 65534"
fails_without CAP_SETGID "cannot drop privileges: cannot become uid 65534"
kill "$VMM" 2>/dev/null

finish
