/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/func_returns.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/go_functab.h"

/* Sections only a Go toolchain writes (the build info and the PC/line table). */
static const char *const go_sections[] = { ".go.buildinfo", ".gopclntab" };

struct elf_file {
	const char *path;
	int fd;
	Elf *elf;
	uint64_t file_size;
	char *err;
	size_t errlen;
};

#define FAIL(f, ...) (snprintf((f)->err, (f)->errlen, __VA_ARGS__), -1)

/* The symbol found for a name, and what else the name turned out to be. */
struct sym_match {
	bool found;           /* a defined STT_FUNC */
	GElf_Sym sym;
	Elf32_Word shndx;     /* its section index (SHN_XINDEX resolved) */
	int bind;
	bool ambiguous;       /* two equally bound functions at different addresses */
	uint64_t other_value; /* the second one's address */
	int other_type;       /* a defined non-function of that name, or -1 */
	bool undefined;       /* an undefined STT_FUNC (an import) of that name */
};

static const char *sym_type_name(int type)
{
	switch (type) {
	case STT_OBJECT: return "data (STT_OBJECT)";
	case STT_TLS: return "thread-local data (STT_TLS)";
	case STT_COMMON: return "common data (STT_COMMON)";
	case STT_NOTYPE: return "a label without a type (STT_NOTYPE)";
	case STT_SECTION: return "a section (STT_SECTION)";
	case STT_FILE: return "a file name (STT_FILE)";
	case STT_GNU_IFUNC: return "an ifunc resolver (STT_GNU_IFUNC)";
	default: return "not a function";
	}
}

/* Global beats weak beats local: what the linker would pick for the name. */
static int bind_rank(int bind)
{
	return bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;
}

/* Looks name up in the symbol table of section scn (SHT_SYMTAB or SHT_DYNSYM). */
static void find_sym(Elf *elf, Elf_Scn *scn, const char *name, struct sym_match *m)
{
	GElf_Shdr sh;
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!gelf_getshdr(scn, &sh) || !data || sh.sh_entsize == 0)
		return;
	/* An SHT_SYMTAB_SHNDX section holds the indices of symbols in sections >= SHN_LORESERVE. */
	Elf_Data *xdata = NULL;
	size_t idx = elf_ndxscn(scn);
	for (Elf_Scn *x = NULL; (x = elf_nextscn(elf, x));) {
		GElf_Shdr xs;
		if (gelf_getshdr(x, &xs) && xs.sh_type == SHT_SYMTAB_SHNDX && xs.sh_link == idx)
			xdata = elf_getdata(x, NULL);
	}
	size_t n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		Elf32_Word xndx = 0;
		if (!gelf_getsymshndx(data, xdata, (int)i, &s, &xndx))
			continue;
		const char *sn = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!sn || strcmp(sn, name) != 0)
			continue;
		int type = GELF_ST_TYPE(s.st_info);
		if (type != STT_FUNC) {
			if (s.st_shndx != SHN_UNDEF)
				m->other_type = type;
			continue;
		}
		if (s.st_shndx == SHN_UNDEF) {
			m->undefined = true;
			continue;
		}
		Elf32_Word shndx = s.st_shndx == SHN_XINDEX ? xndx : s.st_shndx;
		int bind = GELF_ST_BIND(s.st_info);
		if (m->found && m->sym.st_value == s.st_value)
			continue;
		if (m->found && bind_rank(bind) < bind_rank(m->bind))
			continue;
		if (m->found && bind_rank(bind) == bind_rank(m->bind)) {
			m->ambiguous = true;
			m->other_value = s.st_value;
			continue;
		}
		m->found = true;
		m->ambiguous = false;
		m->sym = s;
		m->shndx = shndx;
		m->bind = bind;
	}
}

static const char *scn_name(Elf *elf, size_t shstrndx, const GElf_Shdr *sh)
{
	const char *n = elf_strptr(elf, shstrndx, sh->sh_name);
	return n ? n : "?";
}

/*
 * The file offset of [addr, addr + size): through the symbol's section (as
 * libbpf does), else through the PT_LOAD segment holding it, for symbols
 * that name no section (SHN_ABS). Its bytes must be in the file.
 */
static int func_file_offset(struct elf_file *f, const char *symbol, const struct sym_match *m,
			    size_t shstrndx, uint64_t *off)
{
	uint64_t addr = m->sym.st_value, size = m->sym.st_size;
	Elf_Scn *scn = m->shndx < SHN_LORESERVE || m->sym.st_shndx == SHN_XINDEX
			       ? elf_getscn(f->elf, m->shndx)
			       : NULL;
	GElf_Shdr sh;
	if (scn && gelf_getshdr(scn, &sh)) {
		const char *sname = scn_name(f->elf, shstrndx, &sh);
		if (sh.sh_type == SHT_NOBITS || !(sh.sh_flags & SHF_ALLOC))
			return FAIL(f, "%s: function '%s' is in section %s, which has no loaded bytes in the file",
				    f->path, symbol, sname);
		if (!(sh.sh_flags & SHF_EXECINSTR))
			return FAIL(f, "%s: function '%s' is in section %s, which is not executable code",
				    f->path, symbol, sname);
		if (addr < sh.sh_addr || size > sh.sh_size || addr - sh.sh_addr > sh.sh_size - size)
			return FAIL(f, "%s: function '%s' (0x%llx, %llu bytes) reaches beyond its section %s",
				    f->path, symbol, (unsigned long long)addr, (unsigned long long)size,
				    sname);
		*off = addr - sh.sh_addr + sh.sh_offset;
	} else {
		size_t nph;
		bool in_segment = false;
		if (elf_getphdrnum(f->elf, &nph) != 0)
			nph = 0;
		for (size_t i = 0; i < nph && !in_segment; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(f->elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
			    addr < ph.p_vaddr || size > ph.p_filesz || addr - ph.p_vaddr > ph.p_filesz - size)
				continue;
			*off = addr - ph.p_vaddr + ph.p_offset;
			in_segment = true;
		}
		if (!in_segment)
			return FAIL(f,
				    "%s: function '%s' (0x%llx, %llu bytes) is in no section and no loaded "
				    "segment of the file",
				    f->path, symbol, (unsigned long long)addr, (unsigned long long)size);
	}
	if (*off > f->file_size || size > f->file_size - *off)
		return FAIL(f,
			    "%s: function '%s' (file offset 0x%llx, %llu bytes) reaches beyond the end of "
			    "the file",
			    f->path, symbol, (unsigned long long)*off, (unsigned long long)size);
	return 0;
}

/* A near return (C3, C2 iw), whatever its prefixes; not a far one (retf: CB, CA). */
static bool is_near_ret(unsigned id)
{
	return id == X86_INS_RET;
}

/*
 * Records the file offset of every RET in code (the function's bytes, at
 * file offset base). Where Capstone cannot decode (data or padding in the
 * function, an instruction cut by the symbol's end), it steps one byte and
 * goes on: never past the function's last byte.
 */
static int find_rets(struct elf_file *f, const char *symbol, const uint8_t *code, size_t size,
		     uint64_t base, struct kt_func_returns *out)
{
	csh cs;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return FAIL(f, "%s: function '%s': cannot open the x86-64 disassembler", f->path, symbol);
	cs_insn *insn = cs_malloc(cs);
	if (!insn) {
		cs_close(&cs);
		return FAIL(f, "%s: function '%s': out of memory for the disassembler", f->path, symbol);
	}
	int rc = 0;
	uint64_t at = 0; /* offset in the function */
	while (size > 0) {
		if (!cs_disasm_iter(cs, &code, &size, &at, insn)) {
			code++;
			size--;
			at++;
			continue;
		}
		if (!is_near_ret(insn->id))
			continue;
		if (out->n_rets == KT_FUNC_MAX_RETS) {
			rc = FAIL(f, "%s: function '%s' has more than %d RET instructions", f->path, symbol,
				  KT_FUNC_MAX_RETS);
			break;
		}
		out->ret_off[out->n_rets++] = base + insn->address;
	}
	cs_free(insn, 1);
	cs_close(&cs);
	return rc;
}

/* The section named name, or NULL. */
static Elf_Scn *section_named(Elf *elf, size_t shstrndx, const char *name, GElf_Shdr *sh)
{
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
		if (!gelf_getshdr(scn, sh))
			continue;
		const char *n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

static bool has_go_section(Elf *elf, size_t shstrndx)
{
	GElf_Shdr sh;
	for (size_t i = 0; i < sizeof(go_sections) / sizeof(go_sections[0]); i++)
		if (section_named(elf, shstrndx, go_sections[i], &sh))
			return true;
	return false;
}

/*
 * A function of a stripped Go executable, from its function table
 * (.gopclntab; capture/go_functab.h), as if from a symbol: its address, its
 * size up to the next function, and the executable section holding it. 0
 * with m->found set or not, and *have_table saying whether there was a
 * table to look in; -1 with a message when the table cannot be read.
 */
static int find_go_func(struct elf_file *f, size_t shstrndx, const char *symbol,
			struct sym_match *m, bool *have_table)
{
	/* Go's linker names it .gopclntab, in a PIE .data.rel.ro.gopclntab */
	static const char *const names[] = { ".gopclntab", ".data.rel.ro.gopclntab" };
	GElf_Shdr sh;
	Elf_Scn *scn = NULL;
	const char *name = NULL;
	for (size_t i = 0; !scn && i < sizeof(names) / sizeof(names[0]); i++)
		scn = section_named(f->elf, shstrndx, name = names[i], &sh);
	*have_table = scn != NULL;
	if (!scn)
		return 0; /* an external linker merges it into .data.rel.ro, where nothing names it */
	Elf_Data *d = elf_getdata(scn, NULL);
	if (sh.sh_type == SHT_NOBITS || !d || !d->d_buf)
		return FAIL(f, "%s: its Go function table (%s) is unreadable", f->path, name);
	uint64_t entry, end;
	const char *why;
	enum kt_go_functab_result r = kt_go_functab_find(d->d_buf, d->d_size, symbol, &entry, &end, &why);
	if (r == KT_GO_FUNC_BAD_TABLE)
		return FAIL(f, "%s: its Go function table (%s) cannot be read: %s", f->path, name, why);
	if (r == KT_GO_FUNC_NOT_FOUND)
		return 0;
	/* the executable section that holds it, as a symbol would name it */
	for (Elf_Scn *x = NULL; (x = elf_nextscn(f->elf, x));) {
		GElf_Shdr xs;
		if (gelf_getshdr(x, &xs) && (xs.sh_flags & SHF_EXECINSTR) && entry >= xs.sh_addr &&
		    entry - xs.sh_addr < xs.sh_size) {
			m->shndx = (Elf32_Word)elf_ndxscn(x);
			break;
		}
	}
	if (!m->shndx)
		return FAIL(f, "%s: Go function '%s' (0x%llx) is in no executable section", f->path, symbol,
			    (unsigned long long)entry);
	m->found = true;
	m->sym.st_value = entry;
	m->sym.st_size = end - entry;
	m->sym.st_shndx = (Elf64_Section)m->shndx;
	return 0;
}

/* The ELF header says x86-64, little-endian, 64-bit, executable or shared object. */
static int check_header(struct elf_file *f)
{
	if (elf_kind(f->elf) != ELF_K_ELF)
		return FAIL(f, "%s: not an ELF file", f->path);
	const char *ident = elf_getident(f->elf, NULL);
	if (!ident)
		return FAIL(f, "%s: not an ELF file (%s)", f->path, elf_errmsg(-1));
	if (ident[EI_CLASS] != ELFCLASS64)
		return FAIL(f, "%s: a %s ELF file, not x86-64", f->path,
			    ident[EI_CLASS] == ELFCLASS32 ? "32-bit" : "malformed");
	if (ident[EI_DATA] != ELFDATA2LSB)
		return FAIL(f, "%s: a big-endian ELF file, not x86-64", f->path);
	GElf_Ehdr eh;
	if (!gelf_getehdr(f->elf, &eh))
		return FAIL(f, "%s: unreadable ELF header (%s)", f->path, elf_errmsg(-1));
	if (eh.e_machine != EM_X86_64)
		return FAIL(f, "%s: an ELF file for machine %u, not x86-64 (%u)", f->path,
			    (unsigned)eh.e_machine, (unsigned)EM_X86_64);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return FAIL(f, "%s: an ELF %s, not an executable or shared object", f->path,
			    eh.e_type == ET_REL    ? "relocatable object"
			    : eh.e_type == ET_CORE ? "core file"
						   : "file of unknown type");
	return 0;
}

static int lookup(struct elf_file *f, const char *symbol, struct kt_func_returns *out)
{
	int rc = check_header(f);
	if (rc)
		return rc;
	size_t shstrndx;
	if (elf_getshdrstrndx(f->elf, &shstrndx) != 0)
		return FAIL(f, "%s: unreadable section headers (%s)", f->path, elf_errmsg(-1));

	Elf_Scn *symtab = NULL, *dynsym = NULL;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(f->elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB && !symtab)
			symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM && !dynsym)
			dynsym = scn;
	}
	struct sym_match m = { .other_type = -1 };
	if (symtab)
		find_sym(f->elf, symtab, symbol, &m);
	if (!m.found && dynsym)
		find_sym(f->elf, dynsym, symbol, &m);
	/* a stripped Go executable still has its function table */
	bool go_table = false;
	if (!m.found && !symtab && m.other_type < 0 && !m.undefined) {
		rc = find_go_func(f, shstrndx, symbol, &m, &go_table);
		if (rc < 0)
			return rc;
	}

	if (!m.found) {
		if (m.other_type >= 0)
			return FAIL(f, "%s: symbol '%s' is %s, not a function", f->path, symbol,
				    sym_type_name(m.other_type));
		if (m.undefined)
			return FAIL(f,
				    "%s: function '%s' is not defined in this file (it is imported from a "
				    "shared library)",
				    f->path, symbol);
		if (go_table)
			return FAIL(f,
				    "%s: no function '%s' (the binary is stripped: no .symtab, and its Go "
				    "function table has no such function)",
				    f->path, symbol);
		if (!symtab)
			return FAIL(f, "%s: no function symbol '%s' (the binary is stripped: no .symtab)", f->path,
				    symbol);
		return FAIL(f, "%s: no function symbol '%s'", f->path, symbol);
	}
	if (m.ambiguous)
		return FAIL(f, "%s: more than one function '%s' (at 0x%llx and 0x%llx)", f->path, symbol,
			    (unsigned long long)m.sym.st_value, (unsigned long long)m.other_value);
	if (m.sym.st_size == 0)
		return FAIL(f, "%s: function '%s' has size 0 in the symbol table: its end is unknown", f->path,
			    symbol);
	if (m.sym.st_size > KT_FUNC_MAX_BYTES)
		return FAIL(f, "%s: function '%s' is %llu bytes, more than the %d read at most", f->path, symbol,
			    (unsigned long long)m.sym.st_size, KT_FUNC_MAX_BYTES);

	uint64_t off;
	if (func_file_offset(f, symbol, &m, shstrndx, &off))
		return -1;
	out->entry_off = off;
	out->size = m.sym.st_size;
	out->is_go = has_go_section(f->elf, shstrndx);

	size_t size = (size_t)m.sym.st_size;
	uint8_t *code = malloc(size);
	if (!code)
		return FAIL(f, "%s: function '%s': out of memory for %zu bytes", f->path, symbol, size);
	size_t got = 0;
	while (got < size) {
		ssize_t r = pread(f->fd, code + got, size - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = FAIL(f, "%s: function '%s': cannot read its %zu bytes at file offset 0x%llx: %s",
				  f->path, symbol, size, (unsigned long long)off,
				  r < 0 ? strerror(errno) : "the file is shorter");
			break;
		}
		got += (size_t)r;
	}
	if (rc == 0)
		rc = find_rets(f, symbol, code, size, off, out);
	free(code);
	if (rc == 0 && out->n_rets == 0)
		rc = FAIL(f,
			  "%s: function '%s' has no RET instruction (it never returns, or leaves by a "
			  "tail jump)",
			  f->path, symbol);
	return rc;
}

int kt_func_returns(const char *path, const char *symbol, struct kt_func_returns *out, char *err,
		    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct elf_file f = { .path = path, .fd = -1, .err = err, .errlen = errlen };
	if (elf_version(EV_CURRENT) == EV_NONE)
		return FAIL(&f, "%s: libelf is unusable (%s)", path, elf_errmsg(-1));
	/* O_NONBLOCK: a FIFO in the path's place must not hang the caller. */
	f.fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f.fd < 0)
		return FAIL(&f, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	int rc;
	if (fstat(f.fd, &st) != 0)
		rc = FAIL(&f, "%s: cannot stat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = FAIL(&f, "%s: not a regular file", path);
	else if (!(f.elf = elf_begin(f.fd, ELF_C_READ, NULL)))
		rc = FAIL(&f, "%s: not an ELF file (%s)", path, elf_errmsg(-1));
	else {
		f.file_size = (uint64_t)st.st_size;
		rc = lookup(&f, symbol, out);
	}
	if (f.elf)
		elf_end(f.elf);
	close(f.fd);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}
