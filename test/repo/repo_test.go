// Package repo guards the repository itself: no build output or other
// binary, and nothing large, is ever committed.
package repo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedBytes bounds a tracked file: source, templates and samples are
// far below it; a build output (the 91 MB auditor binary once committed at
// the root) is far above.
const maxTrackedBytes = 1 << 20

// exempt are paths whose files may be binary (golden files, test
// certificates), by prefix.
var exempt = []string{"pkg/asff/testdata/"}

func TestNoBinaryOrLargeTrackedFile(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z").Output()
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files", len(files))
	}
	for _, f := range files {
		if isExempt(f) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			t.Fatal(err)
		}
		if len(data) > maxTrackedBytes {
			t.Errorf("%s is %d bytes, over %d: large files and build outputs are not committed", f, len(data), maxTrackedBytes)
		}
		head := data[:min(len(data), 8000)]
		if bytes.IndexByte(head, 0) >= 0 {
			t.Errorf("%s is binary: build outputs are not committed (see .gitignore)", f)
		}
	}
}

func isExempt(path string) bool {
	for _, p := range exempt {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
