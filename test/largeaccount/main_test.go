package main

import (
	"os"
	"strings"
	"testing"
)

// The benchmark's figures are only the deployed function's if it builds
// the auditor the way the Makefile builds it for Lambda.
func TestBuildFlagsAreTheLambdaBuildFlags(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var rule string
	for _, line := range strings.Split(string(makefile), "\n") {
		if strings.HasPrefix(line, "lambda-build =") {
			rule = line
		}
	}
	if rule == "" {
		t.Fatal("Makefile has no lambda-build rule")
	}
	want := "-tags " + lambdaBuildFlags[1] + " " + lambdaBuildFlags[2] + " " + lambdaBuildFlags[3] + " '" + lambdaBuildFlags[4] + "'"
	if !strings.Contains(rule, want) {
		t.Errorf("Makefile's lambda-build is\n  %s\nbut the benchmark builds with %q (want the rule to contain %q)", rule, lambdaBuildFlags, want)
	}
}
