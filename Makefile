# posture-auditor. `make demo` audits an emulated account; `make test` runs
# every test, go vet and cfn-lint.
GO       ?= go
GOFLAGS  ?=
FUZZTIME ?= 20s

.PHONY: demo test unit vet lint bench fuzz build build-AuditorFunction build-EventsFunction build-PlannerFunction build-WorkerFunction clean docs bench-large bench-large-warm bench-org bench-org-moto

demo:
	$(GO) run ./test/demo

test: vet lint
	$(GO) test -count=1 ./...

unit:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...

lint:
	cfn-lint template.yaml deploy/*.yaml

# docs/checks.md, the catalogue of checks, and README.md's generated tables
# (summary of checks, thresholds), from the check registry.
docs:
	$(GO) run ./test/catalogue -o docs/checks.md -readme README.md

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/... ./test/integration

# The parsers of outside input: the Lambda event, KMS key references,
# Secrets Manager rotation schedules, EventBridge events, resource ARNs and
# the organization queue's messages.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/trigger
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/keyref
	$(GO) test -run '^$$' -fuzz FuzzRotationDue -fuzztime $(FUZZTIME) ./pkg/checks/secretschecks
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./pkg/awsevent
	$(GO) test -run '^$$' -fuzz FuzzFromARN -fuzztime $(FUZZTIME) ./pkg/resource
	$(GO) test -run '^$$' -fuzz FuzzParseMessage -fuzztime $(FUZZTIME) ./pkg/org

# One Lambda binary: $(call lambda-build,<output>,<package>).
lambda-build = GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w' -o $(1) $(2)

# Every function's arm64 bootstrap, as bin/<function>/bootstrap.
build:
	$(call lambda-build,bin/auditor/bootstrap,./functions/auditor)
	$(call lambda-build,bin/events/bootstrap,./functions/events)
	$(call lambda-build,bin/planner/bootstrap,./functions/planner)
	$(call lambda-build,bin/worker/bootstrap,./functions/worker)

# Called by `sam build` (BuildMethod: makefile) with ARTIFACTS_DIR set.
build-AuditorFunction:
	$(call lambda-build,$(ARTIFACTS_DIR)/bootstrap,./functions/auditor)

build-EventsFunction:
	$(call lambda-build,$(ARTIFACTS_DIR)/bootstrap,./functions/events)

build-PlannerFunction:
	$(call lambda-build,$(ARTIFACTS_DIR)/bootstrap,./functions/planner)

build-WorkerFunction:
	$(call lambda-build,$(ARTIFACTS_DIR)/bootstrap,./functions/worker)

clean:
	rm -rf bin .aws-sam

# Two sweeps (fresh, then unchanged) of the issue's large synthetic account,
# served by a wire-level endpoint with AWS's quotas, throttling answers and
# 20 ms a call, its DynamoDB writing a partition key at most 1,000 units a
# second and a new on-demand table 4,000: calls, wall time, peak RSS,
# throttles. Several minutes.
bench-large:
	$(GO) run ./test/largeaccount -lambda-memory-mb 256 -partition-wcu 1000 -table-wcu 4000

# The same with the finding state table warmed to 12,000 write units a
# second (FindingStateWarmWriteUnits).
bench-large-warm:
	$(GO) run ./test/largeaccount -lambda-memory-mb 256 -partition-wcu 1000 -table-wcu 12000

# The organization fan-out: the management account and 20 members (one
# whose role cannot be assumed), each a small account in 2 regions, through
# the real planner, an SQS FIFO queue on moto and 42 concurrent workers
# (WorkerConcurrency: every scope at once, as the target assumes); first one
# member alone (the reference). Every account's own services on its own
# wire-level endpoint (test/largeaccount/endpoint, 20 ms a call, AWS's
# quotas). Wall, planning, each member's wall and outcome, failures, calls,
# findings imported, CPU (auditor and emulators). About 15 seconds.
bench-org:
	$(GO) run ./test/orgbench -members 20 -concurrency 42 -regions us-east-1,eu-west-1 -members-on endpoint -latency 20ms

# The same with every member seeded on its own moto_server (one per
# account): the emulator is then most of the machine's CPU. About two
# minutes.
bench-org-moto:
	$(GO) run ./test/orgbench -members 20 -concurrency 42 -regions us-east-1,eu-west-1 -members-on moto -moto per-account
