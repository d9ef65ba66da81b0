package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Peak RSS is measured through a small launcher process, not by running
// the auditor directly from this one. Go starts a child with
// clone(CLONE_VM|CLONE_VFORK), and Linux's exec records the high-water RSS
// of the mm the child leaves (the parent's) in the child's ru_maxrss: run
// from this process, which holds the endpoint and everything the sweeps
// stored (gigabytes at scale 1), the auditor's ru_maxrss would report this
// process's peak, not its own. The launcher is this binary started afresh
// (a few MB); it runs the auditor, waits for it and reports the auditor's
// own rusage and wall time on file descriptor 3.

// launcherEnv marks the launcher's environment; it is not passed on.
const launcherEnv = "LARGEACCOUNT_LAUNCHER"

// launch is the launcher: os.Args[1] is the auditor. It exits with the
// auditor's status.
func launch() {
	report := os.NewFile(3, "rusage")
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, launcherEnv+"=") {
			env = append(env, e)
		}
	}
	c := exec.Command(os.Args[1])
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	if c.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "largeaccount launcher:", err)
		os.Exit(125)
	}
	var maxrss int64
	cpu := c.ProcessState.UserTime() + c.ProcessState.SystemTime()
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxrss = ru.Maxrss // kilobytes on Linux
	}
	fmt.Fprintf(report, "%d %d %d\n", maxrss, wall.Nanoseconds(), cpu.Nanoseconds())
	_ = report.Close()
	os.Exit(c.ProcessState.ExitCode())
}
