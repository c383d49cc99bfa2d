/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where Kata's two runtimes keep a sandbox's files on the host (paths as
 * the host sees them; callers put the run root in front): the Go runtime
 * (containerd-shim-kata-v2) below /run/vc, runtime-rs below /run/kata, and
 * what both share with the guest below /run/kata-containers.
 * Takes a path; gives which runtime's it is.
 */
#ifndef KT_KATA_DIRS_H
#define KT_KATA_DIRS_H

#define KT_KATA_GO_DIR "/run/vc"
#define KT_KATA_RS_DIR "/run/kata"
/* The Go runtime's per-sandbox directories: the VM's (sockets, pid file) and the sandbox's state. */
#define KT_KATA_GO_VM "vm"
#define KT_KATA_GO_SBS "sbs"
#define KT_KATA_GO_VM_DIR KT_KATA_GO_DIR "/" KT_KATA_GO_VM
#define KT_KATA_GO_SBS_DIR KT_KATA_GO_DIR "/" KT_KATA_GO_SBS
/* Each runtime's state file in a sandbox's directory. */
#define KT_KATA_GO_STATE "persist.json"
#define KT_KATA_RS_STATE "state.json"
/*
 * Both runtimes' directory of what a sandbox shares with its guest
 * (virtio-fs, virtio-9p): <dir>/<id>/..., the tree virtiofsd serves
 * (its --shared-dir=, or -o source= of the C virtiofsd).
 */
#define KT_KATA_SHARED_DIR "/run/kata-containers/shared/sandboxes"

/* "go" or "rs" for a path below one runtime's directory; "" for any other. */
const char *kt_kata_runtime_of(const char *path);

#endif
