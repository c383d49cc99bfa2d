// SPDX-License-Identifier: Apache-2.0

// stackgrow is a target for the probe tests (tests/unit/test_func_returns.c,
// and the crash-safety test of --span on Go functions). main.grow recurses
// with large stack frames, so that the goroutine's stack grows while the
// outermost call still runs: the runtime copies the stack to a larger one,
// and walks its frames' return addresses to do so. A uretprobe on main.grow
// has replaced one of those addresses and the program dies; uprobes on
// main.grow's RET instructions leave the stack alone.
//
//	stackgrow [CALLS [WORKERS]]    (defaults 100 and 4)
//
// With STACKGROW_ARGS="CALLS [WORKERS]" in its environment it takes its
// parameters from there and ignores its command line, so that a copy can
// run with another program's (the runtime shim's, in the probe tests).
//
// The outermost call, main.grow(0) (depth 0), is made exactly
// CALLS × (WORKERS + 1) times: CALLS times by main on its own goroutine and
// CALLS times by each worker, each of these on a new goroutine whose stack
// starts small. Every main.grow(0) calls main.grow(1), … main.grow(levels)
// in turn, so main.grow runs CALLS × (WORKERS + 1) × (levels + 1) times in
// all (levels is 32). At its entry, depth is in RAX (Go's register ABI),
// which tells a probe the calls at depth 0 from the others. The program
// prints
//
//	calls=C grow=G moved=M
//
// (C the calls at depth 0, G those at every depth, M the calls at depth 0
// during which their goroutine's stack moved), and exits 0 when G is as
// stated above, 1 otherwise, 2 on a bad argument.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

const (
	levels     = 32   // depth of the recursion below main.grow(0)
	frameBytes = 4096 // stack bytes each main.grow frame holds: 33 frames need more than 128 KiB
)

// touch writes to the frame, so that the compiler keeps all of it on the
// stack (frame does not escape: touch keeps no reference).
//
//go:noinline
func touch(frame *[frameBytes]byte, depth int) {
	frame[depth%frameBytes] = byte(depth)
}

// grow returns the number of main.grow calls its own call made, itself
// included: levels - depth + 1. Two ways out, so two RET instructions.
//
//go:noinline
func grow(depth int) int {
	var frame [frameBytes]byte
	touch(&frame, depth)
	if depth >= levels {
		return 1
	}
	return grow(depth+1) + 1
}

// outer makes one call at depth 0 and says whether the stack moved during
// it: the address of a local variable changes when the stack is copied.
func outer() (n int, moved bool) {
	var mark byte
	before := uintptr(unsafe.Pointer(&mark))
	n = grow(0)
	return n, uintptr(unsafe.Pointer(&mark)) != before
}

type tally struct {
	sync.Mutex
	calls, grow, moved int
}

func (t *tally) add(n int, moved bool) {
	t.Lock()
	defer t.Unlock()
	t.calls++
	t.grow += n
	if moved {
		t.moved++
	}
}

// params: the arguments after the program's name, or STACKGROW_ARGS's words.
func params() []string {
	if env, ok := os.LookupEnv("STACKGROW_ARGS"); ok {
		return strings.Fields(env)
	}
	return os.Args[1:]
}

func arg(args []string, i int, def int) int {
	if len(args) <= i {
		return def
	}
	v, err := strconv.Atoi(args[i])
	if err != nil || v < 0 {
		fmt.Fprintf(os.Stderr, "usage: stackgrow [CALLS [WORKERS]]: bad number %q\n", args[i])
		os.Exit(2)
	}
	return v
}

func main() {
	args := params()
	calls, workers := arg(args, 0, 100), arg(args, 1, 4)
	var t tally
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				done := make(chan struct{})
				go func() {
					t.add(outer())
					close(done)
				}()
				<-done
			}
		}()
	}
	for i := 0; i < calls; i++ {
		t.add(outer())
	}
	wg.Wait()
	fmt.Printf("calls=%d grow=%d moved=%d\n", t.calls, t.grow, t.moved)
	if t.calls != calls*(workers+1) || t.grow != t.calls*(levels+1) {
		os.Exit(1)
	}
}
