/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A function's entry and RET offsets (capture/func_returns.c) against
 * binutils: objdump -d -F gives each function's file offset and its
 * instructions, nm -S its size. The targets are built by the Makefile into
 * build/targets (tests/targets/): C at -O2 as PIE and not, hand-written
 * return forms, the limits, Go as built by the toolchain and as PIE, and
 * stripped copies.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/func_returns.h"
#include "fs_fixture.h"

#define TARGET(rel) KT_TEST_TARGETS "/" rel

/* What binutils says about one function. */
struct oracle {
	uint64_t entry; /* file offset */
	uint64_t size;
	size_t n_rets;
	uint64_t ret_off[4 * KT_FUNC_MAX_RETS];
};

/* objdump's mnemonic, after the prefixes it prints as words of their own. */
static const char *mnemonic(char *text)
{
	static const char *const prefixes[] = { "rep", "repz", "repe", "repnz", "repne", "bnd",
						"notrack", "data16", "lock", "cs", "ds" };
	for (char *w = strtok(text, " \t\n"); w; w = strtok(NULL, " \t\n")) {
		bool prefix = false;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			prefix |= strcmp(w, prefixes[i]) == 0;
		if (!prefix)
			return w;
	}
	return "";
}

/* Near returns in objdump's AT&T names; lret/lretq (far) are not among them. */
static bool is_ret_mnemonic(const char *m)
{
	return !strcmp(m, "ret") || !strcmp(m, "retq") || !strcmp(m, "retw") || !strcmp(m, "retl");
}

static void run_objdump(const char *path, const char *sym, struct oracle *o)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "objdump -d -F --no-show-raw-insn --disassemble='%s' '%s' 2>&1", sym,
		 path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "%s", cmd);
	char line[1024], head[600];
	snprintf(head, sizeof(head), " <%s> (File Offset: 0x", sym);
	uint64_t vma = 0;
	bool in_func = false;
	while (fgets(line, sizeof(line), p)) {
		char *h = strstr(line, head); /* the function's heading, not a call to it */
		if (h && line[0] != ' ') {
			cr_assert_not(in_func, "objdump shows %s twice in %s", sym, path);
			vma = strtoull(line, NULL, 16);
			o->entry = strtoull(h + strlen(head), NULL, 16);
			in_func = true;
			continue;
		}
		char *colon = strchr(line, ':');
		if (!in_func || line[0] != ' ' || !colon || colon[1] != '\t')
			continue;
		uint64_t at = strtoull(line, NULL, 16);
		if (!is_ret_mnemonic(mnemonic(colon + 2)))
			continue;
		cr_assert_lt(o->n_rets, sizeof(o->ret_off) / sizeof(o->ret_off[0]));
		o->ret_off[o->n_rets++] = o->entry + (at - vma);
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	cr_assert(in_func, "objdump does not show %s in %s", sym, path);
}

/* nm -S: the symbol's size (-D: from .dynsym). */
static uint64_t nm_size(const char *path, const char *sym, bool dynamic)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "nm -S --defined-only %s '%s'", dynamic ? "-D" : "", path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "%s", cmd);
	char line[1024], name[600];
	uint64_t addr, size = 0;
	char type;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %599s", &addr, &size, &type, name) == 4 &&
		    strcmp(name, sym) == 0)
			break;
		else
			size = 0;
	pclose(p);
	cr_assert_neq(size, 0, "nm shows no size for %s in %s", sym, path);
	return size;
}

/* kt_func_returns for path:sym agrees with objdump and nm; returns its result. */
static struct kt_func_returns check_against_binutils(const char *path, const char *sym)
{
	struct kt_func_returns r;
	char err[512] = "";
	cr_assert_eq(kt_func_returns(path, sym, &r, err, sizeof(err)), 0, "%s %s: %s", path, sym, err);

	static struct oracle o;
	memset(&o, 0, sizeof(o));
	run_objdump(path, sym, &o);
	cr_assert_eq(r.entry_off, o.entry, "%s %s: entry 0x%" PRIx64 ", objdump 0x%" PRIx64, path, sym,
		     r.entry_off, o.entry);
	cr_assert_eq(r.size, nm_size(path, sym, false), "%s %s: size", path, sym);
	cr_assert_eq(r.n_rets, o.n_rets, "%s %s: %zu RETs, objdump %zu", path, sym, r.n_rets, o.n_rets);
	for (size_t i = 0; i < r.n_rets; i++) {
		cr_assert_eq(r.ret_off[i], o.ret_off[i], "%s %s: RET %zu at 0x%" PRIx64 ", objdump 0x%" PRIx64,
			     path, sym, i, r.ret_off[i], o.ret_off[i]);
		cr_assert(r.ret_off[i] >= r.entry_off && r.ret_off[i] < r.entry_off + r.size);
		if (i)
			cr_assert_gt(r.ret_off[i], r.ret_off[i - 1]);
	}
	return r;
}

/* The byte at a file offset. */
static int byte_at(const char *path, uint64_t off)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fseek(f, (long)off, SEEK_SET), 0);
	int c = fgetc(f);
	fclose(f);
	return c;
}

/* kt_func_returns fails with one line naming the path and containing want (and out zeroed). */
static void check_error(const char *path, const char *sym, const char *want)
{
	struct kt_func_returns r;
	memset(&r, 0xa5, sizeof(r));
	char err[512] = "";
	cr_assert_eq(kt_func_returns(path, sym, &r, err, sizeof(err)), -1, "%s %s: no error", path, sym);
	cr_assert(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
		  "the error does not start with the path: %s", err);
	cr_assert_null(strchr(err, '\n'), "not one line: %s", err);
	cr_assert_not_null(strstr(err, want), "%s %s: \"%s\" is not in \"%s\"", path, sym, want, err);
	cr_assert_eq(r.n_rets, 0);
	cr_assert_eq(r.entry_off, 0);
}

Test(func_returns, c_functions_match_objdump)
{
	const char *const bins[] = { TARGET("c/multi_ret"), TARGET("c/multi_ret.nopie") };
	const char *const syms[] = { "early_exit", "three_ways", "one_ret", "opaque", "main" };
	for (size_t b = 0; b < 2; b++)
		for (size_t s = 0; s < sizeof(syms) / sizeof(syms[0]); s++) {
			struct kt_func_returns r = check_against_binutils(bins[b], syms[s]);
			cr_assert_not(r.is_go);
			if (s < 2) /* the early exits are what these functions are for */
				cr_assert_geq(r.n_rets, 2, "%s %s: %zu RETs", bins[b], syms[s], r.n_rets);
		}
}

/* ET_EXEC: the file offset is not the address (0x401... against 0x1...). */
Test(func_returns, exec_offsets_are_file_offsets_not_addresses)
{
	struct kt_func_returns r = check_against_binutils(TARGET("c/multi_ret.nopie"), "early_exit");
	cr_assert_lt(r.entry_off, 0x400000);
	for (size_t i = 0; i < r.n_rets; i++)
		cr_assert_eq(byte_at(TARGET("c/multi_ret.nopie"), r.ret_off[i]), 0xc3);
}

Test(func_returns, return_forms)
{
	const char *bin = TARGET("c/ret_forms");
	struct kt_func_returns r = check_against_binutils(bin, "ret_forms");
	/* ret $8, repz ret, bnd ret, data16 ret, ret: at their first byte; not
	 * the C3s of the immediate, not lret and lretq */
	static const int first_byte[] = { 0xc2, 0xf3, 0xf2, 0x66, 0xc3 };
	cr_assert_eq(r.n_rets, 5);
	for (size_t i = 0; i < r.n_rets; i++)
		cr_assert_eq(byte_at(bin, r.ret_off[i]), first_byte[i], "RET %zu", i);
	cr_assert_eq(r.ret_off[4], r.entry_off + r.size - 1);

	/* An instruction cut by the end: its bytes are stepped over one by
	 * one, nothing past the end is read. */
	r = check_against_binutils(bin, "cut_end");
	cr_assert_eq(r.size, 5);
	cr_assert_eq(r.n_rets, 3);
	cr_assert_eq(r.ret_off[0], r.entry_off);
	cr_assert_eq(r.ret_off[2], r.entry_off + 4);
}

Test(func_returns, go_functions_match_objdump)
{
	const char *const bins[] = { TARGET("go/stackgrow"), TARGET("go/stackgrow.pie") };
	const char *const syms[] = { "main.grow", "main.touch", "main.main", "main.(*tally).add",
				     "strconv.Atoi", "runtime.memmove" };
	for (size_t b = 0; b < 2; b++) {
		for (size_t s = 0; s < sizeof(syms) / sizeof(syms[0]); s++) {
			struct kt_func_returns r = check_against_binutils(bins[b], syms[s]);
			cr_assert(r.is_go, "%s", bins[b]);
		}
		/* a return per way out */
		cr_assert_geq(check_against_binutils(bins[b], "main.grow").n_rets, 2);
		cr_assert_geq(check_against_binutils(bins[b], "runtime.memmove").n_rets, 10);
	}
}

/* The PIE has no .gopclntab section (its table is .data.rel.ro.gopclntab): .go.buildinfo says Go. */
Test(func_returns, go_is_told_by_either_section)
{
	FILE *p = popen("readelf -SW '" TARGET("go/stackgrow.pie") "'", "r");
	cr_assert_not_null(p);
	char line[512];
	bool pclntab = false, buildinfo = false;
	while (fgets(line, sizeof(line), p)) {
		pclntab |= strstr(line, " .gopclntab ") != NULL;
		buildinfo |= strstr(line, " .go.buildinfo ") != NULL;
	}
	pclose(p);
	cr_assert(buildinfo && !pclntab);

	struct kt_func_returns r;
	char err[512];
	cr_assert_eq(kt_func_returns(TARGET("go/stackgrow.pie"), "main.main", &r, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(r.is_go);
	cr_assert_eq(kt_func_returns(TARGET("go/stackgrow"), "main.main", &r, err, sizeof(err)), 0, "%s", err);
	cr_assert(r.is_go);
	cr_assert_eq(kt_func_returns(TARGET("c/multi_ret"), "main", &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(r.is_go);
}

/* Without .symtab, a global function is still in .dynsym, at the same offsets. */
Test(func_returns, stripped_copy_through_dynsym)
{
	const char *full = TARGET("c/multi_ret"), *stripped = TARGET("c/multi_ret.stripped");
	struct kt_func_returns a = check_against_binutils(full, "three_ways"), b;
	char err[512];
	cr_assert_eq(kt_func_returns(stripped, "three_ways", &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(b.size, nm_size(stripped, "three_ways", true));
	cr_assert_eq(b.entry_off, a.entry_off);
	cr_assert_eq(b.n_rets, a.n_rets);
	cr_assert_arr_eq(b.ret_off, a.ret_off, a.n_rets * sizeof(a.ret_off[0]));

	/* a static function was only in .symtab */
	check_error(stripped, "one_ret", "no function symbol 'one_ret' (the binary is stripped: no .symtab)");
}

/*
 * A stripped Go executable has no symbol table, but keeps its function
 * table (.gopclntab) for the runtime: a function is found there, at the
 * offset Go's own debug/gosym gives (build/targets/go/gosym), with the size
 * up to the next function, and the same entry and RETs as through the
 * unstripped executable's symbol table.
 */
static void stripped_go(const char *stripped, const char *full_path)
{
	const char *const syms[] = { "main.grow", "main.touch", "main.main", "main.(*tally).add",
				     "strconv.Atoi", "runtime.memmove" };
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		char cmd[512], line[256];
		snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s'", TARGET("go/gosym"), stripped, syms[i]);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		unsigned long long entry = 0, end = 0, offset = 0;
		bool got = fgets(line, sizeof(line), p) &&
			   sscanf(line, "entry=0x%llx end=0x%llx offset=0x%llx", &entry, &end, &offset) == 3;
		cr_assert_eq(pclose(p), 0, "%s", cmd);
		cr_assert(got, "%s: %s", cmd, line);

		struct kt_func_returns r, full;
		char err[512];
		cr_assert_eq(kt_func_returns(stripped, syms[i], &r, err, sizeof(err)), 0, "%s: %s",
			     stripped, err);
		cr_expect_eq(r.entry_off, offset, "%s", syms[i]);
		cr_expect_eq(r.size, end - entry, "%s", syms[i]);
		cr_expect(r.is_go);
		cr_assert_eq(kt_func_returns(full_path, syms[i], &full, err, sizeof(err)), 0, "%s", err);
		cr_expect_eq(r.entry_off, full.entry_off, "%s", syms[i]);
		cr_expect_geq(r.size, full.size, "%s", syms[i]); /* the padding before the next one too */
		cr_assert_eq(r.n_rets, full.n_rets, "%s", syms[i]);
		cr_expect_arr_eq(r.ret_off, full.ret_off, full.n_rets * sizeof(full.ret_off[0]), "%s",
				 syms[i]);
	}
	/* no .symtab left */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | grep -q ' .symtab '", stripped);
	cr_assert_neq(system(cmd), 0, "%s has a .symtab", stripped);
	check_error(stripped, "main.nope",
		    "no function 'main.nope' (the binary is stripped: no .symtab, and its Go function "
		    "table has no such function)");
}

Test(func_returns, stripped_go_through_its_function_table)
{
	stripped_go(TARGET("go/stackgrow.stripped"), TARGET("go/stackgrow"));
}

/*
 * A Go executable whose table no section names (what an external linker
 * makes: merged into .data.rel.ro) is refused as stripped, not as a table
 * without the function.
 */
Test(func_returns, stripped_go_without_a_named_table)
{
	fx_root_make("funcret");
	const char *copy = fx_at("unnamed");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "objcopy --rename-section .gopclntab=.gopclntab_elsewhere '%s' '%s'",
		 TARGET("go/stackgrow.stripped"), copy);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	check_error(copy, "main.grow", "no function symbol 'main.grow' (the binary is stripped: no .symtab)");
	fx_root_remove();
}

/* A PIE's table is .data.rel.ro.gopclntab. */
Test(func_returns, stripped_go_pie_through_its_function_table)
{
	stripped_go(TARGET("go/stackgrow.pie.stripped"), TARGET("go/stackgrow.pie"));
}

Test(func_returns, symbols_that_are_not_functions_with_returns)
{
	const char *c = TARGET("c/multi_ret");
	check_error(c, "no_such_function", "no function symbol 'no_such_function'");
	check_error(c, "counter", "symbol 'counter' is data (STT_OBJECT), not a function");
	check_error(c, "__libc_start_main", "function '__libc_start_main' is not defined in this file");
	check_error(c, "tail_out", "function 'tail_out' has no RET instruction");
	const char *forms = TARGET("c/ret_forms");
	check_error(forms, "chosen", "symbol 'chosen' is an ifunc resolver (STT_GNU_IFUNC), not a function");
	check_error(forms, "in_data", "function 'in_data' is in section .data, which is not executable code");
	check_error(forms, "in_bss", "function 'in_bss' is in section .bss, which has no loaded bytes");
	check_error(TARGET("c/limits"), "no_size", "function 'no_size' has size 0");
	check_error(TARGET("go/stackgrow"), "main.nope", "no function symbol 'main.nope'");

	/* the missing symbol of an unstripped binary has no stripped hint */
	struct kt_func_returns r;
	char err[512];
	cr_assert_eq(kt_func_returns(c, "no_such_function", &r, err, sizeof(err)), -1);
	cr_assert_null(strstr(err, "stripped"), "%s", err);
}

Test(func_returns, rets_at_the_limit)
{
	struct kt_func_returns r = check_against_binutils(TARGET("c/limits"), "rets_at_max");
	cr_assert_eq(r.n_rets, KT_FUNC_MAX_RETS);
	char want[128];
	snprintf(want, sizeof(want), "function 'rets_over_max' has more than %d RET instructions",
		 KT_FUNC_MAX_RETS);
	check_error(TARGET("c/limits"), "rets_over_max", want);
}

Test(func_returns, bytes_at_the_limit)
{
	struct kt_func_returns r;
	char err[512];
	cr_assert_eq(kt_func_returns(TARGET("c/limits"), "bytes_at_max", &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.size, KT_FUNC_MAX_BYTES);
	cr_assert_eq(r.size, nm_size(TARGET("c/limits"), "bytes_at_max", false));
	cr_assert_eq(r.n_rets, 1);
	cr_assert_eq(r.ret_off[0], r.entry_off + KT_FUNC_MAX_BYTES - 1);
	cr_assert_eq(byte_at(TARGET("c/limits"), r.ret_off[0]), 0xc3);
	char want[128];
	snprintf(want, sizeof(want), "function 'bytes_over_max' is %d bytes, more than the %d read at most",
		 KT_FUNC_MAX_BYTES + 1, KT_FUNC_MAX_BYTES);
	check_error(TARGET("c/limits"), "bytes_over_max", want);
}

/* A copy of the C target with n bytes at at changed, its first keep bytes (0: all). */
static const char *crafted(const char *name, size_t at, const uint8_t *bytes, size_t n, size_t keep)
{
	FILE *f = fopen(TARGET("c/multi_ret"), "rb");
	cr_assert_not_null(f);
	static uint8_t buf[64 * 1024];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert(len > 64 && len < sizeof(buf) && at + n <= len);
	if (n)
		memcpy(buf + at, bytes, n);
	fx_put(name, buf, keep ? keep : len);
	return fx_at(name);
}

/* The number a shell command prints (0x... or decimal). */
static uint64_t shell_number(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "%s", cmd);
	char line[128] = "";
	cr_assert_not_null(fgets(line, sizeof(line), p), "%s printed nothing", cmd);
	pclose(p);
	char *end;
	uint64_t v = strtoull(line, &end, 0);
	cr_assert(end != line, "%s printed %s", cmd, line);
	return v;
}

/* n bytes at at of file path overwritten. */
static void patch(const char *path, uint64_t at, const void *bytes, size_t n)
{
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fseek(f, (long)at, SEEK_SET), 0);
	cr_assert_eq(fwrite(bytes, 1, n, f), n);
	fclose(f);
}

/* The file offset of multi_ret's .symtab entry of sym (Elf64_Sym: 24 bytes). */
static uint64_t symtab_entry(const char *sym)
{
	static uint64_t symtab;
	if (!symtab)
		symtab = shell_number("readelf -SW '" TARGET("c/multi_ret") "' | "
				      "sed -n 's/.* \\.symtab *SYMTAB *[0-9a-f]* \\([0-9a-f]*\\) .*/0x\\1/p'");
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "readelf -sW '%s' | awk '/^Symbol table .\\.symtab./ { t = 1 } t && $8 == \"%s\" { print $1 + 0 }'",
		 TARGET("c/multi_ret"), sym);
	return symtab + shell_number(cmd) * 24;
}

/* kt_func_returns of path:sym gives what it gives for the unchanged multi_ret. */
static void same_as_multi_ret(const char *path, const char *sym)
{
	struct kt_func_returns a = check_against_binutils(TARGET("c/multi_ret"), sym), b;
	char err[512];
	cr_assert_eq(kt_func_returns(path, sym, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(b.entry_off, a.entry_off);
	cr_assert_eq(b.size, a.size);
	cr_assert_eq(b.n_rets, a.n_rets);
	cr_assert_arr_eq(b.ret_off, a.ret_off, a.n_rets * sizeof(a.ret_off[0]));
}

/*
 * Symbols a compiler seldom writes, made by changing multi_ret's .symtab:
 * a function that names no section (SHN_ABS) is mapped through its PT_LOAD
 * segment; a second function of the same name is refused when it is bound
 * as strongly, and loses to the global one when it is local.
 */
Test(func_returns, crafted_symbols)
{
	fx_root_make("funcret");
	const char *abs = crafted("abs", symtab_entry("early_exit") + 6, (const uint8_t[]){ 0xf1, 0xff }, 2, 0);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s' | grep -c ' ABS early_exit$'", abs);
	cr_assert_eq(shell_number(cmd), 1, "the crafted symbol is not SHN_ABS");
	same_as_multi_ret(abs, "early_exit");

	/* three_ways renamed early_exit: its st_name made early_exit's */
	uint8_t name[4];
	for (int i = 0; i < 4; i++)
		name[i] = (uint8_t)byte_at(TARGET("c/multi_ret"), symtab_entry("early_exit") + i);
	const char *twins = crafted("twins", symtab_entry("three_ways"), name, 4, 0);
	check_error(twins, "early_exit", "more than one function 'early_exit' (at 0x");
	patch(twins, symtab_entry("three_ways") + 4, (const uint8_t[]){ STB_LOCAL << 4 | STT_FUNC }, 1);
	same_as_multi_ret(twins, "early_exit");
	fx_root_remove();
}

Test(func_returns, files_that_are_not_x86_64_executables)
{
	check_error(TARGET("c/none"), "main", "cannot open: No such file or directory");
	check_error(KT_TEST_TARGETS, "main", "not a regular file");
	check_error(KT_TEST_TARGETS "/../../tests/unit/test_func_returns.c", "main", "not an ELF file");

	fx_root_make("funcret");
	const char *fifo = fx_at("fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0, "%s", strerror(errno));
	check_error(fifo, "main", "not a regular file");
	check_error(crafted("elf32", 4, (const uint8_t[]){ 1 }, 1, 0), "main", "a 32-bit ELF file, not x86-64");
	check_error(crafted("msb", 5, (const uint8_t[]){ 2 }, 1, 0), "main", "a big-endian ELF file");
	check_error(crafted("aarch64", 18, (const uint8_t[]){ 183, 0 }, 2, 0), "main",
		    "an ELF file for machine 183, not x86-64");
	check_error(crafted("rel", 16, (const uint8_t[]){ 1, 0 }, 2, 0), "main",
		    "an ELF relocatable object, not an executable or shared object");
	check_error(crafted("core", 16, (const uint8_t[]){ 4, 0 }, 2, 0), "main", "an ELF core file");
	/* the header alone: its section headers are past the end */
	check_error(crafted("truncated", 0, NULL, 0, 64), "main", "");
	/* the unchanged copy works */
	struct kt_func_returns r;
	char err[512];
	const char *same = crafted("same", 0, NULL, 0, 0);
	cr_assert_eq(kt_func_returns(same, "main", &r, err, sizeof(err)), 0, "%s", err);
	fx_root_remove();
}

Test(func_returns, short_error_buffer)
{
	struct kt_func_returns r;
	char err[8];
	memset(err, 'x', sizeof(err));
	cr_assert_eq(kt_func_returns(TARGET("c/none"), "main", &r, err, sizeof(err)), -1);
	cr_assert_eq(err[sizeof(err) - 1], '\0');
	cr_assert_eq(kt_func_returns(TARGET("c/none"), "main", &r, NULL, 0), -1);
}
