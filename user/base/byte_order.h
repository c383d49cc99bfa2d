/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Big-endian (network order) integers in byte buffers, the way the wire
 * formats write their lengths and ids: the agent's 8-byte frame length,
 * ttrpc's and gRPC's 4-byte ones, the control socket's, OTLP's ids; and
 * little-endian ones, bincode's. Byte by byte, so any alignment and any
 * host byte order will do (compilers merge them into one load).
 */
#ifndef KT_BYTE_ORDER_H
#define KT_BYTE_ORDER_H

#include <stdint.h>

static inline uint32_t kt_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t kt_be64(const uint8_t *p)
{
	return (uint64_t)kt_be32(p) << 32 | kt_be32(p + 4);
}

static inline uint32_t kt_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint64_t kt_le64(const uint8_t *p)
{
	return (uint64_t)kt_le32(p + 4) << 32 | kt_le32(p);
}

static inline void kt_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void kt_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void kt_put_le64(uint8_t *p, uint64_t v)
{
	kt_put_le32(p, (uint32_t)v);
	kt_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
