# The whole test suite: `make test` installs what it needs (scripts/test-deps.sh)
# and runs gofmt, vet, staticcheck, the race detector over every package, and
# then the unit and end-to-end tests (fuzz seed corpora included) with a
# closing 'N passed, N failed' line.
GO ?= go
FUZZTIME ?= 20s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test deps vet staticcheck unit race fuzz bench build bench-http bench-keys bench-create bench-scale

test: deps vet staticcheck race unit

deps:
	./scripts/test-deps.sh

build:
	$(GO) build -o trent ./cmd/trent

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

unit:
	TRENT_REQUIRE_AWSCLI=1 TRENT_REQUIRE_WRK=1 TRENT_REQUIRE_SOFTHSM=1 TRENT_REQUIRE_POSTGRES=1 TRENT_REQUIRE_BOTO3=1 TRENT_REQUIRE_NODE=1 TRENT_REQUIRE_SOPS=1 ./scripts/gotest.sh -count=1 -timeout 20m ./...
	@echo "== the end-to-end KMS, authorization and audit tests again, on PostgreSQL (TRENT_TEST_BACKEND=postgres)"
	TRENT_TEST_BACKEND=postgres TRENT_REQUIRE_POSTGRES=1 ./scripts/gotest.sh -count=1 -timeout 20m -run '$(PG_E2E)' ./internal/e2e/

# The end-to-end tests that run a second time with testenv on PostgreSQL
# (docs/postgres.md, Tests): KMS operations, authorization, audit.
PG_E2E_KMS = TestTestenvBackend|TestNULInDescriptionAndTags|TestSmoke|TestCreateKey|TestDescribeKey|TestListKeys|TestUpdateKey|TestEnableDisableKey|TestScheduleKeyDeletion|TestCancelKeyDeletion|TestAlias|TestCreateAlias|TestListAliases|TestEncrypt|TestDecrypt|TestReEncrypt|TestGenerate|TestDryRun|TestSignVerify|TestAsymDryRun|TestAsymmetricRules|TestRSA|TestMac|TestForged|TestIgnoreCiphertext|TestOpenSSLInterop|TestTag|TestListResourceTags|TestKeyPolicies|TestMLKEM($$|Errors|CrossAccount)|TestMLDSA|TestWireNoServerErrors|FuzzDispatch
PG_E2E_STATE = TestKeyStateTable|TestDeletionLifecycle|TestKeyIdForms|TestMultiRegion|TestImport(Symmetric|Expiry|RotateOnDemand|Asymmetric|MLDSA|Audit|Malformed|OpenSSL|ReplacePending)|TestKeyRotation|TestRotateKey|TestAutomaticRotation|TestDisabledKeyRotates|TestConcurrentUseDuringRotation|TestLifecycleSurvivesRestart
PG_E2E_AUTHZ = TestAuthz|TestAuthorizationTable|TestAccessDenied|TestCredentialStates|TestIAMAndSTS
PG_E2E_AUDIT = TestAudit(OneEvent|Session|FailsClosed)|TestLookupEvents|TestGetKeyLastUsage
PG_E2E = ^($(PG_E2E_KMS)|$(PG_E2E_STATE)|$(PG_E2E_AUTHZ)|$(PG_E2E_AUDIT))

# -timeout 20m: the end-to-end package under the race detector takes about
# 5 of go test's default 10 minutes on the 2-core test machine when it is
# busy; a slower CI machine must not fail it for that.
race:
	$(GO) test -count=1 -race -timeout 20m ./internal/...

# Short fuzzing runs of every fuzz target (not part of `make test`; FUZZTIME=20s each).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/e2e/ ./internal/keys/ ./internal/sigv4/

# Speed through HTTP against a freshly started dev-mode Trent (scripts/bench-http.sh):
#   make bench-http                      ../shared/perf/ratio.sh: req/s as a fraction of the bare net/http ceiling
#   make bench-keys KEYS=100000 ARGS='--spread hot --hot 10000'   create KEYS keys, then Encrypt over them
#   make bench-create ARGS='--duration 20s'                       CreateKey with 16 clients: keys/s, p99
#   make bench-scale KEYS=1000000 ARGS='--keys 100000 --spread cycle'   fill a data dir fast, then Encrypt over its keys
#   make bench-scale KEYS=1000000 WRK=1   the same data dir measured with wrk (as ratio.sh): one key, 10,000 hot keys, a cycle over 100,000
#   DB=postgres with any of them: one node on a throwaway PostgreSQL cluster instead of SQLite
SCENARIOS ?=
KEYS ?= 100000
ARGS ?=
bench-http:
	./scripts/bench-http.sh ratio $(SCENARIOS)

bench-keys:
	./scripts/bench-http.sh keys $(KEYS) $(ARGS)

bench-create:
	./scripts/bench-http.sh create $(ARGS)

bench-scale:
	./scripts/bench-http.sh scale $(KEYS) $(ARGS)
