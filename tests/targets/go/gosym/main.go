// SPDX-License-Identifier: Apache-2.0

// gosym is the test oracle for reading a Go executable's function table
// (user/capture/go_functab.c): Go's own debug/gosym reads the .gopclntab
// section of an executable (.data.rel.ro.gopclntab in a PIE) and prints where a function starts and ends, as
// addresses and as file offsets (through the section holding its entry).
//
//	gosym EXECUTABLE FUNCTION
//
// prints "entry=0x... end=0x... offset=0x..." and exits 0; exits 1 when the
// function is not in the table, 2 when the file cannot be read.
package main

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"os"
)

func fail(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gosym: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	if len(os.Args) != 3 {
		fail(2, "usage: gosym EXECUTABLE FUNCTION")
	}
	f, err := elf.Open(os.Args[1])
	if err != nil {
		fail(2, "%v", err)
	}
	pcln := f.Section(".gopclntab")
	if pcln == nil {
		pcln = f.Section(".data.rel.ro.gopclntab") // a PIE's
	}
	text := f.Section(".text")
	if pcln == nil || text == nil {
		fail(2, "%s: no .gopclntab (or .data.rel.ro.gopclntab) or .text section", os.Args[1])
	}
	data, err := pcln.Data()
	if err != nil {
		fail(2, "%v", err)
	}
	table, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		fail(2, "%v", err)
	}
	fn := table.LookupFunc(os.Args[2])
	if fn == nil {
		fail(1, "%s: no function %s", os.Args[1], os.Args[2])
	}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && fn.Entry >= s.Addr && fn.Entry < s.Addr+s.Size {
			fmt.Printf("entry=0x%x end=0x%x offset=0x%x\n", fn.Entry, fn.End, fn.Entry-s.Addr+s.Offset)
			return
		}
	}
	fail(2, "%s: %s is in no executable section", os.Args[1], os.Args[2])
}
