// Command catalogue writes docs/checks.md, the catalogue of every check,
// from the check registry (`make docs`):
//
//	go run ./test/catalogue                          # the catalogue, to stdout
//	go run ./test/catalogue -o docs/checks.md -readme README.md
//
// With -readme it also rewrites README.md's generated blocks (the summary of
// checks and the threshold table, between their markers), leaving the rest
// of the file as it is. The tests in this directory fail when the committed
// files differ from what it would write.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/posture-auditor/posture-auditor/pkg/catalogue"
	"github.com/posture-auditor/posture-auditor/pkg/registry"
)

func main() {
	out := flag.String("o", "", "write the catalogue to this file instead of stdout")
	readme := flag.String("readme", "", "also rewrite the generated blocks of this README")
	flag.Parse()
	if err := run(*out, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "catalogue:", err)
		os.Exit(1)
	}
}

func run(out, readme string) error {
	checks := registry.All()
	doc := catalogue.Render(checks)
	if readme != "" {
		old, err := os.ReadFile(readme)
		if err != nil {
			return err
		}
		updated, err := catalogue.UpdateREADME(old, checks)
		if err != nil {
			return fmt.Errorf("%s: %w", readme, err)
		}
		if err := writeIfChanged(readme, old, updated); err != nil {
			return err
		}
	}
	if out == "" {
		_, err := os.Stdout.Write(doc)
		return err
	}
	old, _ := os.ReadFile(out)
	return writeIfChanged(out, old, doc)
}

// writeIfChanged leaves an up-to-date file untouched (and its mtime).
func writeIfChanged(path string, old, data []byte) error {
	if string(old) == string(data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
