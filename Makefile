# snug: build, test, lint and demo. Everything builds from the Go module proxy.
GO          ?= go
BIN         := bin
CP_BIN      := $(BIN)/controlplane
CONTROLPLANE := $(CP_BIN)/kube-apiserver $(CP_BIN)/kube-controller-manager $(CP_BIN)/kube-scheduler $(CP_BIN)/etcd
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Integration tests start real etcd/kube-apiserver/kube-controller-manager.
INTEGRATION_TIMEOUT ?= 30m
UNIT_PKGS    = $(shell $(GO) list ./... | grep -v /test/integration)

.PHONY: all build controlplane test test-unit test-integration lint generate verify-generated demo clean

all: build

## build: bin/scheduler and bin/descheduler
build:
	$(GO) build -o $(BIN)/ ./cmd/scheduler ./cmd/descheduler

## controlplane: the real control-plane binaries the tests run, built from the
## versions pinned by the tool lines in go.mod (no downloads)
controlplane: $(CONTROLPLANE)

$(CP_BIN)/kube-apiserver $(CP_BIN)/kube-controller-manager $(CP_BIN)/kube-scheduler &:
	$(GO) build -o $(CP_BIN)/ k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler

$(CP_BIN)/etcd:
	$(GO) build -o $(CP_BIN)/etcd go.etcd.io/etcd/server/v3

## test: unit and integration tests
test: test-unit test-integration

test-unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

test-integration: controlplane
	SNUG_CONTROLPLANE_BIN=$(abspath $(CP_BIN)) $(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) -v ./test/integration/...

## lint: gofmt, go vet, staticcheck (from the module proxy)
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## generate: deepcopy, conversion and defaulter code of the config API
generate:
	./hack/update-codegen.sh

## demo: local control plane, snug's scheduler, a mixed node pool, workloads
demo: build controlplane
	SNUG_CONTROLPLANE_BIN=$(abspath $(CP_BIN)) $(GO) run ./hack/demo --bin $(abspath $(BIN))

clean:
	rm -rf $(BIN)

## bench-throughput: upstream's scheduler_perf workloads under the default
## profile and snug's shipped profile (test/benchmark/throughput, ~20 min;
## not part of make test), then the table in docs/benchmarks.md, section
## Throughput. BENCH_LABELS selects workloads (scheduler_perf labels).
BENCH_OUT    ?= $(BIN)/bench-throughput
BENCH_LABELS ?= throughput
BENCH_BUILD   = $(GO) test -c -o $(BENCH_OUT)/throughput.test ./test/benchmark/throughput/
BENCH_RUN     = SNUG_CONTROLPLANE_BIN=$(abspath $(CP_BIN)) test/benchmark/throughput/bench.sh $(BENCH_OUT)/throughput.test $(BENCH_OUT) $(BENCH_LABELS)

.PHONY: bench-throughput
bench-throughput: $(CP_BIN)/etcd
	rm -rf $(BENCH_OUT) && mkdir -p $(BENCH_OUT)
	$(BENCH_BUILD)
	$(BENCH_RUN)
	$(GO) run ./test/benchmark/throughput/report -data-dir $(BENCH_OUT) -doc docs/benchmarks.md -command "make bench-throughput" -expanded "$(BENCH_BUILD) && $(BENCH_RUN)"
