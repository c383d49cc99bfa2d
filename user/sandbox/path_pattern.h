/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Path patterns: where a file of each sandbox (or container) is, with {ID}
 * for its id. The syntax shared by discovery's templates (disc_template.h)
 * and the OCI bundle patterns (oci_bundle.h).
 *
 * Takes: a pattern as the user or the defaults give it, and an id. Gives:
 * whether the pattern is acceptable (absolute, relative to the run root;
 * components that are names or exactly one "{ID}", "*" where allowed; no
 * "." or ".."; a file name after {ID}; at most KT_PATTERN_MAX characters
 * and KT_PATTERN_COMPONENTS components), with a message saying why not; and
 * the path it gives for one id.
 */
#ifndef KT_PATH_PATTERN_H
#define KT_PATH_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#define KT_PATTERN_MAX 512       /* characters of a path pattern */
#define KT_PATTERN_COMPONENTS 16 /* components of a path pattern */

/*
 * A path pattern: absolute (relative to run_root), components that are
 * names or exactly one "{ID}" (and "*" where allow_star), no "." or "..",
 * ending in a file name after {ID}. Returns 0, or -1 with a message in err.
 */
int kt_path_pattern_check(const char *pattern, bool allow_star, char *err, size_t errlen);

/*
 * The path of pattern (one {ID}, no '*') for id, relative: without the
 * leading '/' ("/run/vc/vm/{ID}/pid" gives "run/vc/vm/<id>/pid"). Returns 0,
 * or -1 when pattern has no {ID} or the path does not fit cap.
 */
int kt_path_pattern_expand(const char *pattern, const char *id, char *out, size_t cap);

#endif
