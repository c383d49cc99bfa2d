/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/takeover_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/byte_order.h"
#include "base/fd_io.h"
#include "control/control_wire.h"
#include "daemon/sd_notify.h"

/* The memfd: the offer's length, the offer (a packed TakeoverOffer), the state. */
#define LEN_BYTES 4

int kt_handover_to_store(const struct kt_handover *h, char *err, size_t errlen)
{
	size_t n_offer = 0;
	uint8_t *offer = kt_takeover_pack_offer(h, &n_offer);
	if (!offer) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int mfd = memfd_create(KT_STORE_STATE, MFD_CLOEXEC);
	uint8_t len[LEN_BYTES];
	kt_put_be32(len, (uint32_t)n_offer);
	int rc = mfd >= 0 && kt_write_all(mfd, len, sizeof(len)) == 0 &&
			 kt_write_all(mfd, offer, n_offer) == 0 &&
			 kt_write_all(mfd, h->state, h->state_len) == 0
		 ? 0
		 : -1;
	free(offer);
	if (rc) {
		snprintf(err, errlen, "its state cannot be written to memory: %s", strerror(errno));
		if (mfd >= 0)
			close(mfd);
		return -1;
	}
	for (size_t i = 0; i < h->n_fds; i++) {
		char name[64];
		snprintf(name, sizeof(name), KT_STORE_FD_PREFIX "%zu", i);
		if (kt_sd_store_fd(h->fds[i].fd, name)) {
			snprintf(err, errlen, "systemd did not take descriptor %zu of %zu: %s", i,
				 h->n_fds, strerror(errno));
			close(mfd);
			return -1;
		}
	}
	/* last: its presence says everything else is there */
	rc = kt_sd_store_fd(mfd, KT_STORE_STATE);
	if (rc)
		snprintf(err, errlen, "systemd did not take the state: %s", strerror(errno));
	close(mfd);
	return rc;
}

/* The memfd's offer and state into out; its descriptors named after their index. */
static int read_state(int mfd, struct kt_handover *out, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(mfd, &st) || st.st_size < LEN_BYTES ||
	    (uint64_t)st.st_size > (uint64_t)KT_CONTROL_MSG_MAX + LEN_BYTES + KT_TAKEOVER_STATE_MAX) {
		snprintf(err, errlen, "the stored state is not one (%lld bytes)",
			 (long long)st.st_size);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "the stored state cannot be read: %s", strerror(errno));
		return -1;
	}
	size_t n_offer = kt_be32(map);
	int rc = -1;
	if (n_offer > size - LEN_BYTES || n_offer > KT_CONTROL_MSG_MAX)
		snprintf(err, errlen, "the stored state's offer of %zu bytes does not fit", n_offer);
	else if (kt_handover_take_offer(map + LEN_BYTES, n_offer, out, err, errlen) == 0) {
		size_t n_state = size - LEN_BYTES - n_offer;
		out->state = malloc(n_state ? n_state : 1);
		if (out->state) {
			memcpy(out->state, map + LEN_BYTES + n_offer, n_state);
			out->state_len = out->state_cap = n_state;
			rc = 0;
		} else {
			snprintf(err, errlen, "no memory for %zu bytes of state", n_state);
		}
	}
	munmap(map, size);
	return rc;
}

int kt_handover_from_store(struct kt_handover *out, char *err, size_t errlen)
{
	kt_handover_init(out);
	size_t n = 0;
	struct kt_sd_fd *fds = kt_sd_listen_fds(&n);
	int mfd = -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(fds[i].name, KT_STORE_STATE) == 0)
			mfd = fds[i].fd;
	int rc = 0;
	if (mfd >= 0)
		rc = read_state(mfd, out, err, errlen) == 0 ? 1 : -1;
	size_t prefix = strlen(KT_STORE_FD_PREFIX);
	for (size_t i = 0; i < n; i++) {
		char *end;
		unsigned long idx = strtoul(fds[i].name + prefix, &end, 10);
		bool ours = strncmp(fds[i].name, KT_STORE_FD_PREFIX, prefix) == 0 && !*end &&
			    end != fds[i].name + prefix;
		if (rc == 1 && ours && idx < out->n_fds && out->fds[idx].fd < 0) {
			out->fds[idx].fd = fds[i].fd;
			out->fds[idx].bpf.fd = fds[i].fd;
		} else {
			close(fds[i].fd); /* not ours, or of a state not taken */
		}
	}
	free(fds);
	/*
	 * A connection or a probe's whose peer hung up while stored may be gone
	 * (a systemd that drops such descriptors despite FDPOLL=0): it ended,
	 * and the rest goes on. Anything else missing makes the store unusable.
	 */
	size_t ended = 0;
	for (size_t i = 0; rc == 1 && i < out->n_fds; i++) {
		if (out->fds[i].fd >= 0)
			continue;
		if (out->fds[i].kind == KT_HANDED_CONNECTION || out->fds[i].kind == KT_HANDED_PROBE) {
			ended++;
			continue;
		}
		snprintf(err, errlen, "descriptor %zu of %zu is not in the store", i, out->n_fds);
		kt_handover_free(out, true);
		return -1;
	}
	if (ended)
		kt_warn("fd store: %zu connections ended while stored (not in the store)", ended);
	if (rc < 0)
		kt_handover_free(out, true);
	return rc;
}
