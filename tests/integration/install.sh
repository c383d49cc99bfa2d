#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make install / make uninstall into temporary DESTDIRs: exactly the binary
# (0755, the one built), kata-trace-forwarder as a link to it and the
# systemd unit (0644, ExecStart naming the installed binary); the installed
# binary prints its version (user/daemon/config.h's KT_VERSION) and, called
# as kata-trace-forwarder, the forwarder's help; a kata-trace-forwarder that
# is another program is left alone by both; uninstall removes what install
# put there and nothing else.
. "$(dirname "$0")/lib.sh"
log "make install PREFIX=/usr DESTDIR=..., make uninstall"
VERSION=$(sed -n 's/^#define KT_VERSION "\(.*\)"$/\1/p' "$ROOT_DIR/user/daemon/config.h")
[ -n "$VERSION" ] || abort_test "setup: no KT_VERSION in user/daemon/config.h"
[ -x "$KT" ] || abort_test "setup: no $KT (make)"
UNIT_SRC=$ROOT_DIR/deploy/systemd/katatrace-bpf.service

# -o: the binary the other tests use, never rebuilt here
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$ROOT_DIR" -o katatrace-bpf "$@"; }
# Every file and link under a directory, "MODE PATH [-> TARGET]", sorted.
tree() { (cd "$1" && find . \( -type f -o -type l \) -printf '%m %p %l\n' | sed 's/ $//' | sort); }

D=$OUT/dest
mk install PREFIX=/usr DESTDIR="$D" >"$OUT/install.log" 2>&1
check "make install PREFIX=/usr DESTDIR=$D" [ $? = 0 ]
sed 's/^/    /' "$OUT/install.log" | tail -n 5
check "exactly the binary, the link and the unit, with their modes" [ "$(tree "$D")" = "$(printf '%s\n' \
	'644 ./usr/lib/systemd/system/katatrace-bpf.service' \
	'755 ./usr/bin/katatrace-bpf' \
	'777 ./usr/bin/kata-trace-forwarder katatrace-bpf' | sort)" ]
check "the binary is the one built" cmp -s "$KT" "$D/usr/bin/katatrace-bpf"
unit_as_built() { # installed unit, bindir: the source with ExecStart naming bindir
	diff <(sed "s|^ExecStart=/usr/local/bin/katatrace-bpf |ExecStart=$2/katatrace-bpf |" "$UNIT_SRC") "$1"
}
check "the unit: ExecStart names /usr/bin/katatrace-bpf, the rest as in deploy/systemd" \
	unit_as_built "$D/usr/lib/systemd/system/katatrace-bpf.service" /usr/bin
check "the unit's ExecStart line" grep -qx 'ExecStart=/usr/bin/katatrace-bpf run --spool-dir=/var/lib/katatrace-bpf/spool --fd-store $KATATRACE_BPF_OPTIONS' \
	"$D/usr/lib/systemd/system/katatrace-bpf.service"

check "installed: --version prints $VERSION" [ "$("$D/usr/bin/katatrace-bpf" --version)" = "katatrace-bpf $VERSION" ]
"$D/usr/bin/kata-trace-forwarder" --help >"$OUT/fwd-help.out" 2>&1
check "as kata-trace-forwarder: --help exits 0" [ $? = 0 ]
check "as kata-trace-forwarder: --help is the forwarder's" [ "$(head -n 1 "$OUT/fwd-help.out")" = \
	"Usage: katatrace-bpf [OPTIONS]   (or installed as kata-trace-forwarder)" ]
check "as kata-trace-forwarder: its flags, kata-trace-forwarder's" \
	grep -q '^  --trace-name NAME        service.name of the spans (default kata-agent)$' "$OUT/fwd-help.out"
check "as kata-trace-forwarder: -v prints $VERSION" \
	[ "$("$D/usr/bin/kata-trace-forwarder" -v)" = "katatrace-bpf $VERSION" ]

mk uninstall PREFIX=/usr DESTDIR="$D" >"$OUT/uninstall.log" 2>&1
check "make uninstall: exit 0, nothing left but directories" [ $? = 0 -a -z "$(tree "$D")" ]

log "the default PREFIX (/usr/local): the unit as it is in deploy/systemd"
D2=$OUT/dest2
mk install DESTDIR="$D2" >"$OUT/install2.log" 2>&1
check "make install DESTDIR=$D2" [ $? = 0 ]
check "bin/ and lib/systemd/system under /usr/local" [ "$(tree "$D2")" = "$(printf '%s\n' \
	'644 ./usr/local/lib/systemd/system/katatrace-bpf.service' \
	'755 ./usr/local/bin/katatrace-bpf' \
	'777 ./usr/local/bin/kata-trace-forwarder katatrace-bpf' | sort)" ]
check "the unit unchanged" cmp -s "$UNIT_SRC" "$D2/usr/local/lib/systemd/system/katatrace-bpf.service"

log "a kata-trace-forwarder that is another program stays"
D3=$OUT/dest3
mkdir -p "$D3/usr/bin"
printf '#!/bin/sh\necho the real forwarder\n' >"$D3/usr/bin/kata-trace-forwarder"
chmod 755 "$D3/usr/bin/kata-trace-forwarder"
mk install PREFIX=/usr DESTDIR="$D3" >"$OUT/install3.log" 2>&1
check "make install: exit 0, says it left it" \
	exited_with $? 0 "$OUT/install3.log" "$D3/usr/bin/kata-trace-forwarder is another program: left as it is"
check "it still runs as itself" [ "$("$D3/usr/bin/kata-trace-forwarder")" = "the real forwarder" ]
mk uninstall PREFIX=/usr DESTDIR="$D3" >"$OUT/uninstall3.log" 2>&1
check "make uninstall leaves it too" [ "$(tree "$D3")" = "755 ./usr/bin/kata-trace-forwarder" ]

finish
