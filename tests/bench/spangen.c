/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Realistic agent spans of the JSON era, deterministically: the shape of
 * the golden vectors (tracing-opentelemetry's attributes: the request,
 * busy and idle time; no event), with
 * the agent's RPC names, traces of 8 spans (a root and 7 children), random
 * ids, and the request text padded so that every payload is exactly SIZE
 * bytes (default 808). Writes them framed (8-byte big-endian length +
 * payload, back to back), as the agent sends them.
 *
 * Usage: spangen N SEED OUT_FILE [SIZE]
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/u128_text.h"

static uint64_t state;

static uint64_t rnd(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1Dull;
}

static const char *const names[] = {
	"create_container", "start_container", "exec_process", "wait_process",
	"stats_container",  "update_routes",   "list_interfaces", "get_guest_details",
	"update_interface", "copy_file",       "add_arp_neighbors", "remove_container",
};
static const char *const reqs[] = {
	"CreateContainerRequest", "StartContainerRequest", "ExecProcessRequest",
	"WaitProcessRequest",     "StatsContainerRequest", "UpdateRoutesRequest",
	"ListInterfacesRequest",  "GuestDetailsRequest",   "UpdateInterfaceRequest",
	"CopyFileRequest",        "AddARPNeighborsRequest", "RemoveContainerRequest",
};

#define SPAN_FMT                                                                                    \
	"{\"span_context\":{\"trace_id\":%s,\"span_id\":%" PRIu64 ",\"trace_flags\":1,"              \
	"\"is_remote\":false,\"trace_state\":null},\"parent_span_id\":%" PRIu64 ","                  \
	"\"span_kind\":\"Internal\",\"name\":\"%s\","                                                \
	"\"start_time\":{\"secs_since_epoch\":%u,\"nanos_since_epoch\":%u},"                         \
	"\"end_time\":{\"secs_since_epoch\":%u,\"nanos_since_epoch\":%u},"                           \
	"\"attributes\":{\"map\":{\"req\":{\"String\":\"%s\"},"      \
	"\"busy_ns\":{\"I64\":%u},\"idle_ns\":{\"I64\":%u}},"                                        \
	"\"evict_list\":[\"idle_ns\",\"busy_ns\",\"req\"],\"max_len\":128,"          \
	"\"dropped_count\":0},\"events\":{\"queue\":null,\"max_len\":128,\"dropped_count\":0},"      \
	"\"links\":{\"queue\":null,\"max_len\":128,\"dropped_count\":0},\"status_code\":\"Unset\","  \
	"\"status_message\":\"\",\"resource\":{\"attrs\":{\"service.name\":{\"String\":"            \
	"\"kata-agent\"}}}}"

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: spangen N SEED OUT_FILE [SIZE]\n");
		return 2;
	}
	long n = strtol(argv[1], NULL, 0);
	state = strtoull(argv[2], NULL, 0) | 1;
	size_t size = argc == 5 ? strtoull(argv[4], NULL, 0) : 808;
	FILE *out = fopen(argv[3], "wb");
	if (!out || n <= 0 || size < 600 || size > 4096) {
		fprintf(stderr, "spangen: bad arguments (or %s: cannot write)\n", argv[3]);
		return 2;
	}
	static const char hexd[] = "0123456789abcdef";
	char trace[48], req[4096], buf[8192];
	uint64_t root = 0;
	unsigned long long total = 0;
	for (long i = 0; i < n; i++) {
		if (i % 8 == 0) {
			u128_dec(((u128)rnd() << 64) | rnd(), trace);
			root = rnd() | 1;
		}
		uint64_t span = i % 8 == 0 ? root : rnd() | 1;
		uint64_t parent = i % 8 == 0 ? 0 : root;
		unsigned k = (unsigned)(rnd() % (sizeof(names) / sizeof(names[0])));
		unsigned secs = 1700000000u + (unsigned)(i / 1000);
		unsigned start_ns = (unsigned)(i % 1000) * 1000000u;
		unsigned busy = (unsigned)(rnd() % 900000), idle = (unsigned)(rnd() % 90000);
		/* The request's text: its name and a container id, padded below. */
		char cid[65];
		for (int c = 0; c < 64; c++)
			cid[c] = hexd[rnd() % 16];
		cid[64] = 0;
		int fixed = snprintf(buf, sizeof(buf), SPAN_FMT, trace, span, parent, names[k], secs,
				     start_ns, secs, start_ns + busy + idle, "", busy, idle);
		if (fixed < 0 || (size_t)fixed + 16 > size) {
			fprintf(stderr, "spangen: %zu bytes is too small for a span\n", size);
			return 2;
		}
		size_t rl = size - (size_t)fixed;
		int h = snprintf(req, sizeof(req), "%s { container_id: %s, exec_id: ", reqs[k], cid);
		size_t at = (size_t)h < rl ? (size_t)h : rl;
		for (size_t c = at; c < rl; c++)
			req[c] = c + 2 == rl ? ' ' : c + 1 == rl ? '}' : cid[c % 64];
		req[rl] = 0;
		int len = snprintf(buf, sizeof(buf), SPAN_FMT, trace, span, parent, names[k], secs,
				   start_ns, secs, start_ns + busy + idle, req, busy, idle);
		if (len < 0 || (size_t)len != size) {
			fprintf(stderr, "spangen: span %ld is %d bytes, not %zu\n", i, len, size);
			return 2;
		}
		uint8_t hdr[8];
		for (int b = 0; b < 8; b++)
			hdr[b] = (uint8_t)((uint64_t)len >> (56 - 8 * b));
		if (fwrite(hdr, 1, 8, out) != 8 || fwrite(buf, 1, (size_t)len, out) != (size_t)len) {
			perror(argv[3]);
			return 2;
		}
		total += 8 + (unsigned long long)len;
	}
	if (fclose(out)) {
		perror(argv[3]);
		return 2;
	}
	printf("spangen: %ld spans of %zu bytes, %llu bytes framed\n", n, size, total);
	return 0;
}
