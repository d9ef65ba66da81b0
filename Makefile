# posture-auditor. `make demo` audits an emulated account; `make test` runs
# every test, go vet and cfn-lint.
GO       ?= go
GOFLAGS  ?=
FUZZTIME ?= 20s

.PHONY: demo test unit vet lint bench fuzz build build-AuditorFunction clean

demo:
	$(GO) run ./test/demo

test: vet lint
	$(GO) test -count=1 ./...

unit:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...

lint:
	cfn-lint template.yaml

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/... ./test/integration

# The parsers of outside input: the Lambda event, KMS key references, and
# Secrets Manager rotation schedules.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/trigger
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/keyref
	$(GO) test -run '^$$' -fuzz FuzzRotationDue -fuzztime $(FUZZTIME) ./pkg/checks/secretschecks

build:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w' -o bin/bootstrap ./functions/auditor

# Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR set.
build-AuditorFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./functions/auditor

clean:
	rm -rf bin .aws-sam
