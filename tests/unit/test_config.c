/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line limits (user/config.c) at their exact boundaries: exactly
 * the most --socket-path, --capture-path, --sandbox-path, --bundle-path and
 * --shim-socket-dir values are taken, one more stops the start-up with a
 * usage error naming the limit; a --shim-socket-dir of KT_SHIM_PREFIX_MAX
 * characters is taken, one more is too long. A usage error exits, so each
 * parse runs in a child process whose exit status and stderr are checked.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/config.h"

/*
 * Parses "run" with the options opt (one string) n times, each value made
 * by value(i). Returns the child's exit status (0: kt_config_parse
 * returned); its stderr goes to err. check(c) runs in the child on success
 * and exits 3 when it fails.
 */
static int parse_n(const char *opt, size_t n, void (*value)(size_t i, char *out, size_t size),
		   size_t want_count, size_t (*count)(const struct kt_config *c), char *err,
		   size_t errlen)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		char **argv = calloc(2 * n + 2, sizeof(*argv));
		size_t argc = 0;
		argv[argc++] = "run";
		for (size_t i = 0; i < n; i++) {
			char *v = malloc(1024);
			value(i, v, 1024);
			argv[argc++] = (char *)opt;
			argv[argc++] = v;
		}
		struct kt_config c;
		kt_config_defaults(&c);
		kt_config_parse(&c, "run", (int)argc, argv);
		if (count && count(&c) != want_count) {
			fprintf(stderr, "parsed %zu values, want %zu", count(&c), want_count);
			_exit(3);
		}
		_exit(0);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t r;
	while (got + 1 < errlen && (r = read(fds[0], err + got, errlen - 1 - got)) > 0)
		got += (size_t)r;
	err[got] = '\0';
	close(fds[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the parse did not exit: %s", err);
	return WEXITSTATUS(status);
}

static void socket_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/vc/vm/s%zu/clh.sock_10240", i);
}

static void capture_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/capture%zu/", i);
}

static void sandbox_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "cloud-hypervisor=/run/t%zu/{ID}/clh.sock", i);
}

static void bundle_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/b%zu/{ID}/config.json", i);
}

static void shim_dir(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/shim%zu", i);
}

static size_t n_socket(const struct kt_config *c)
{
	return c->n_socket_paths;
}

static size_t n_capture(const struct kt_config *c)
{
	return c->n_capture_paths;
}

static size_t n_sandbox(const struct kt_config *c)
{
	return c->n_sandbox_paths;
}

static size_t n_bundle(const struct kt_config *c)
{
	return c->n_bundle_paths;
}

static size_t n_shim(const struct kt_config *c)
{
	size_t n = 0;
	for (size_t i = 0; i < KT_MAX_SHIM_SOCKET_DIRS; i++)
		n += c->shim_socket_dir_buf[i][0] != '\0';
	return n;
}

static void at_most(const char *opt, size_t max, void (*value)(size_t, char *, size_t),
		    size_t (*count)(const struct kt_config *))
{
	char err[2048];
	int rc = parse_n(opt, max, value, max, count, err, sizeof(err));
	cr_expect_eq(rc, 0, "%zu x %s: exit %d: %s", max, opt, rc, err);
	rc = parse_n(opt, max + 1, value, max + 1, count, err, sizeof(err));
	cr_expect_eq(rc, 2, "%zu x %s: exit %d: %s", max + 1, opt, rc, err);
	char want[64];
	snprintf(want, sizeof(want), "%s: at most %zu", opt, max);
	cr_expect(strstr(err, want), "%zu x %s: '%s' lacks '%s'", max + 1, opt, err, want);
}

Test(config, path_counts_at_their_limits)
{
	at_most("--socket-path", KT_MAX_SOCKET_PATHS, socket_path, n_socket);
	at_most("--capture-path", KT_MAX_CAPTURE_PATHS, capture_path, n_capture);
	at_most("--sandbox-path", KT_MAX_SANDBOX_PATHS, sandbox_path, n_sandbox);
	at_most("--bundle-path", KT_MAX_BUNDLE_PATHS, bundle_path, n_bundle);
	at_most("--shim-socket-dir", KT_MAX_SHIM_SOCKET_DIRS, shim_dir, n_shim);
}

static size_t dir_len;

static void long_dir(size_t i, char *out, size_t size)
{
	(void)i;
	cr_assert_lt(dir_len, size);
	memset(out, 'd', dir_len);
	out[0] = '/';
	out[dir_len - 1] = '/'; /* with its slash, so the prefix needs no more room */
	out[dir_len] = '\0';
}

Test(config, shim_socket_dir_length_at_its_limit)
{
	char err[2048];
	dir_len = KT_SHIM_PREFIX_MAX;
	int rc = parse_n("--shim-socket-dir", 1, long_dir, 1, n_shim, err, sizeof(err));
	cr_expect_eq(rc, 0, "%zu characters: exit %d: %s", dir_len, rc, err);
	dir_len = KT_SHIM_PREFIX_MAX + 1;
	rc = parse_n("--shim-socket-dir", 1, long_dir, 1, n_shim, err, sizeof(err));
	cr_expect_eq(rc, 2, "%zu characters: exit %d: %s", dir_len, rc, err);
	cr_expect(strstr(err, "is too long for a unix socket path"), "%s", err);
}
