# snug: build, test, lint and demo. Everything builds from the Go module proxy.
GO          ?= go
BIN         := bin
CP_BIN      := $(BIN)/controlplane
CONTROLPLANE := $(CP_BIN)/kube-apiserver $(CP_BIN)/kube-controller-manager $(CP_BIN)/kube-scheduler $(CP_BIN)/etcd
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Integration tests start real etcd/kube-apiserver/kube-controller-manager.
INTEGRATION_TIMEOUT ?= 30m
UNIT_PKGS    = $(shell $(GO) list ./... | grep -v /test/integration)

.PHONY: all build image controlplane test test-unit test-integration lint generate verify-generated demo clean

all: build

## Version stamped into the binaries. VERSION is snug's (git describe;
## "unknown" outside a git checkout: the image build passes it in, as .git is
## not in its context). Each value is computed once, on first use.
VERSION        ?= $(eval VERSION := $$(shell git describe --tags --always --dirty 2>/dev/null || echo unknown))$(VERSION)
GIT_COMMIT     ?= $(eval GIT_COMMIT := $$(shell git rev-parse HEAD 2>/dev/null || echo unknown))$(GIT_COMMIT)
GIT_TREE_STATE ?= $(if $(filter unknown,$(GIT_COMMIT)),,$(if $(filter %-dirty,$(VERSION)),dirty,clean))
BUILD_DATE     ?= $(eval BUILD_DATE := $$(shell date -u +%Y-%m-%dT%H:%M:%SZ))$(BUILD_DATE)
# The Kubernetes release of the libraries (go.mod). kube-scheduler derives its
# binary version, hence feature gates and emulation version, from
# component-base's gitVersion, which must therefore stay that release; snug's
# version goes into its semver build metadata: v1.36.3+snug.<VERSION>.
KUBE_VERSION   ?= $(eval KUBE_VERSION := $$(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes))$(KUBE_VERSION)
KUBE_GIT_VERSION = $(KUBE_VERSION)+snug.$(shell printf '%s' '$(VERSION)' | tr -c '0-9A-Za-z.-' '-')
KUBE_MAJOR_MINOR = $(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))
# The ldflags of every binary, local or in the image (the Dockerfile runs make build).
LDFLAGS = -s -w \
	-X github.com/snug-sched/snug/pkg/version.version=$(VERSION) \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_GIT_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(KUBE_MAJOR_MINOR)) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(KUBE_MAJOR_MINOR)) \
	-X k8s.io/component-base/version.gitCommit=$(GIT_COMMIT) \
	-X k8s.io/component-base/version.gitTreeState=$(GIT_TREE_STATE) \
	-X k8s.io/component-base/version.buildDate=$(BUILD_DATE) \
	-X sigs.k8s.io/descheduler/pkg/version.version=$(VERSION) \
	-X sigs.k8s.io/descheduler/pkg/version.gitsha1=$(GIT_COMMIT) \
	-X sigs.k8s.io/descheduler/pkg/version.buildDate=$(BUILD_DATE)
# Static binaries (no cgo), no local paths in them.
GO_BUILD = CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"
# The commands make build makes, as $(BIN)/<name>; the Dockerfile copies each.
COMMANDS := scheduler descheduler capacity-planner

## build: bin/scheduler, bin/descheduler and bin/capacity-planner, static,
## with the version stamped (--version prints it); BIN=dir builds elsewhere
build:
	$(GO_BUILD) -o $(BIN)/ $(addprefix ./cmd/,$(COMMANDS))

## image: the three commands on distroless static, nonroot (Dockerfile);
## IMAGE names it, CONTAINER_TOOL builds it (docker with BuildKit, podman, ...)
CONTAINER_TOOL ?= docker
IMAGE          ?= snug:$(VERSION)
image:
	@command -v $(CONTAINER_TOOL) >/dev/null 2>&1 || { echo "make image: no container engine: '$(CONTAINER_TOOL)' is not installed (set CONTAINER_TOOL, e.g. CONTAINER_TOOL=podman)" >&2; exit 1; }
	@$(CONTAINER_TOOL) info >/dev/null 2>&1 || { echo "make image: '$(CONTAINER_TOOL)' cannot reach its container engine ('$(CONTAINER_TOOL) info' fails): start it, or set CONTAINER_TOOL" >&2; exit 1; }
	DOCKER_BUILDKIT=1 $(CONTAINER_TOOL) build -t $(IMAGE) \
		--build-arg VERSION=$(VERSION) --build-arg GIT_COMMIT=$(GIT_COMMIT) \
		--build-arg GIT_TREE_STATE=$(GIT_TREE_STATE) --build-arg BUILD_DATE=$(BUILD_DATE) .

## controlplane: the real control-plane binaries the tests run, built from the
## versions pinned by the tool lines in go.mod (no downloads)
controlplane: $(CONTROLPLANE)

$(CP_BIN)/kube-apiserver $(CP_BIN)/kube-controller-manager $(CP_BIN)/kube-scheduler &:
	$(GO) build -o $(CP_BIN)/ k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler

$(CP_BIN)/etcd:
	$(GO) build -o $(CP_BIN)/etcd go.etcd.io/etcd/server/v3

## test: unit and integration tests
test: test-unit test-integration

# The control plane is a prerequisite: the throughput smoke test
# (test/benchmark/throughput) needs its etcd and skips itself without one.
# So is build: test/build runs make build again into a temporary directory,
# which then only links (a cold static build takes minutes on 2 cores).
test-unit: controlplane build
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

## demo: snug's main job (hack/demo, docs/demo.md): a local control plane
## with upstream kube-scheduler as the default scheduler and snug's scheduler
## as manifests/ ships it, the same workload placed by each on its own node
## pool, side by side, then snug's descheduler (dry run, then for real).
## It builds only what it runs, in one go build (one build cache, parallel
## compiles, nothing relinked when up to date): the demo, snug's scheduler
## and descheduler into $(DEMO_BIN)/ (no version stamp, so nothing relinks
## for a new commit alone) and, if missing, the control-plane binaries,
## which then move to $(CP_BIN)/ (etcd builds as "server").
DEMO_BIN  := $(BIN)/demo
DEMO_CMDS := ./hack/demo ./cmd/scheduler ./cmd/descheduler
CP_PKGS   := kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
	kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
	kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler etcd=go.etcd.io/etcd/server/v3
.PHONY: demo-binaries
demo: demo-binaries
	SNUG_CONTROLPLANE_BIN=$(abspath $(CP_BIN)) $(DEMO_BIN)/demo

demo-binaries:
	@mkdir -p $(DEMO_BIN) $(CP_BIN); missing=; pkgs=; \
	for e in $(CP_PKGS); do b=$${e%%=*}; test -x $(CP_BIN)/$$b || { missing="$$missing $$b"; pkgs="$$pkgs $${e#*=}"; }; done; \
	echo "make demo: building$${missing:+$$missing and} the demo, snug's scheduler and descheduler (from scratch about 7 minutes on 2 idle cores; up to date, a second)"; \
	echo "$(GO) build -o $(DEMO_BIN)/ $(DEMO_CMDS)$$pkgs"; \
	$(GO) build -o $(DEMO_BIN)/ $(DEMO_CMDS) $$pkgs || exit 1; \
	for b in $$missing; do src=$$b; test $$b != etcd || src=server; mv $(DEMO_BIN)/$$src $(CP_BIN)/$$b || exit 1; done

clean:
	rm -rf $(BIN)

## bench-throughput: upstream's scheduler_perf workloads under the default
## profile and snug's shipped profile (test/benchmark/throughput, ~20 min per run;
## not part of make test), then the table in docs/benchmarks.md, section
## Throughput. BENCH_LABELS selects workloads (scheduler_perf labels),
## BENCH_RUNS repeats the whole run (the table shows means and ratio ranges).
BENCH_OUT    ?= $(BIN)/bench-throughput
BENCH_LABELS ?= throughput
BENCH_RUNS   ?= 1
BENCH_BUILD   = $(GO) test -c -o $(BENCH_OUT)/throughput.test ./test/benchmark/throughput/
BENCH_COMMAND = make bench-throughput$(if $(filter-out 1,$(BENCH_RUNS)), BENCH_RUNS=$(BENCH_RUNS))$(if $(filter-out throughput,$(BENCH_LABELS)), BENCH_LABELS=$(BENCH_LABELS))
BENCH_RUN     = SNUG_CONTROLPLANE_BIN=$(abspath $(CP_BIN)) test/benchmark/throughput/bench.sh $(BENCH_OUT)/throughput.test $(BENCH_OUT) $(BENCH_LABELS) $(BENCH_RUNS)
# The report over everything in $(BENCH_OUT), with the commands that produced
# it as bench-throughput and bench-throughput-more recorded them there.
BENCH_REPORT  = $(GO) run ./test/benchmark/throughput/report -data-dir $(BENCH_OUT) -doc docs/benchmarks.md -command "$$(cat $(BENCH_OUT)/command)" -expanded "$$(cat $(BENCH_OUT)/expanded)"

.PHONY: bench-throughput
bench-throughput: $(CP_BIN)/etcd
	rm -rf $(BENCH_OUT) && mkdir -p $(BENCH_OUT)
	git rev-parse --short HEAD > $(BENCH_OUT)/revision 2>/dev/null || true
	echo "$(BENCH_COMMAND)" > $(BENCH_OUT)/command
	echo "$(BENCH_BUILD) && $(BENCH_RUN)" > $(BENCH_OUT)/expanded
	$(BENCH_BUILD)
	status=0; $(BENCH_RUN) || status=$$?; \
	$(BENCH_REPORT) && exit $$status

## bench-throughput-more: BENCH_RUNS more runs of the test cases in
## BENCH_CASES (scheduler_perf test case names, e.g. PreemptionAsync) added
## to the last bench-throughput's data, then the report again over all of
## it: workloads whose runs vary most get more runs without repeating the rest.
BENCH_CASES ?=
.PHONY: bench-throughput-more
bench-throughput-more: $(CP_BIN)/etcd
	@test -x $(BENCH_OUT)/throughput.test -a -f $(BENCH_OUT)/command || { echo "no $(BENCH_OUT)/throughput.test: run make bench-throughput first"; exit 1; }
	@test -n "$(BENCH_CASES)" || { echo "BENCH_CASES names the test cases to repeat, e.g. BENCH_CASES=PreemptionAsync"; exit 1; }
	more="make bench-throughput-more BENCH_CASES='$(BENCH_CASES)'$(if $(filter-out 1,$(BENCH_RUNS)), BENCH_RUNS=$(BENCH_RUNS))"; \
	expanded="BENCH_CASES='$(BENCH_CASES)' $(BENCH_RUN)"; \
	echo "$$(cat $(BENCH_OUT)/command) && $$more" > $(BENCH_OUT)/command; \
	echo "$$(cat $(BENCH_OUT)/expanded), then $$expanded" > $(BENCH_OUT)/expanded; \
	status=0; BENCH_CASES="$(BENCH_CASES)" $(BENCH_RUN) || status=$$?; \
	$(BENCH_REPORT) && exit $$status

## bench-quality: placement quality of eight policies (upstream profiles,
## reference heuristics, snug's) on the Alibaba openb trace in the simulator
## (test/benchmark/quality; about 20 minutes on two cores; not part of make
## test), then the Placement quality section of docs/benchmarks.md and
## docs/quality-protocol-a.svg. SNUG_OPENB_DIR is the trace directory (never
## copied into the repository). BENCH_QUALITY_FLAGS adds flags, e.g. -quick
## (every 4th node and pod, under ten minutes); with flags the report goes to
## $(BENCH_QUALITY_OUT)/ instead of docs/, without the hand-written analysis.
SNUG_OPENB_DIR      ?= ../shared/data/alibaba-openb
BENCH_QUALITY_OUT   ?= $(BIN)/bench-quality
BENCH_QUALITY_FLAGS ?=
BENCH_QUALITY_DOC    = $(if $(BENCH_QUALITY_FLAGS),$(BENCH_QUALITY_OUT)/benchmarks.md,docs/benchmarks.md)
BENCH_QUALITY_SVG    = $(if $(BENCH_QUALITY_FLAGS),$(BENCH_QUALITY_OUT)/quality-protocol-a.svg,docs/quality-protocol-a.svg)
BENCH_QUALITY_RUN    = $(GO) run ./test/benchmark/quality/cmd/bench-quality -openb $(SNUG_OPENB_DIR) -json $(BENCH_QUALITY_OUT)/results.json -doc $(BENCH_QUALITY_DOC) -svg $(BENCH_QUALITY_SVG) $(BENCH_QUALITY_FLAGS)

.PHONY: bench-quality
bench-quality:
	mkdir -p $(BENCH_QUALITY_OUT) docs
	$(BENCH_QUALITY_RUN) -command "make bench-quality$(if $(BENCH_QUALITY_FLAGS), BENCH_QUALITY_FLAGS='$(BENCH_QUALITY_FLAGS)')" $(if $(BENCH_QUALITY_FLAGS),,-analysis test/benchmark/quality/analysis.md)

## bench-quality-family: every policy on every workload mix of the family
## (test/benchmark/quality/mix: CPU-only demand x0.5, x1.5, x2.5, more
## multi-GPU pods, GPU pods constrained to GPU models, a homogeneous GPU
## pool, a CPU-heavy pool), each generated in memory from the trace (seed
## BENCH_QUALITY_FAMILY_SEED), then a table per mix in
## docs/benchmarks-family.md. The whole trace takes about five hours on two
## cores (docs/benchmarks-family.md shows how to run it in parts and merge
## them); BENCH_QUALITY_FAMILY_FLAGS=-quick keeps every 8th node and pod
## (under 15 minutes) and writes its report to $(BENCH_QUALITY_OUT)/ instead.
BENCH_QUALITY_FAMILY_FLAGS ?=
BENCH_QUALITY_FAMILY_SEED  ?= 1
BENCH_QUALITY_FAMILY_DOC    = $(if $(BENCH_QUALITY_FAMILY_FLAGS),$(BENCH_QUALITY_OUT)/benchmarks-family.md,docs/benchmarks-family.md)
BENCH_QUALITY_FAMILY_RUN    = $(GO) run ./test/benchmark/quality/cmd/bench-quality -family -mix-seed $(BENCH_QUALITY_FAMILY_SEED) -openb $(SNUG_OPENB_DIR) -json $(BENCH_QUALITY_OUT)/family.json -doc $(BENCH_QUALITY_FAMILY_DOC) $(BENCH_QUALITY_FAMILY_FLAGS)

.PHONY: bench-quality-family
bench-quality-family:
	mkdir -p $(BENCH_QUALITY_OUT) docs
	$(BENCH_QUALITY_FAMILY_RUN) -command "make bench-quality-family$(if $(BENCH_QUALITY_FAMILY_FLAGS), BENCH_QUALITY_FAMILY_FLAGS='$(BENCH_QUALITY_FAMILY_FLAGS)')"

## bench-plugins: Go micro-benchmarks of snug's plugins (Score/PreScore against
## upstream NodeResourcesFit, Filter, PreEnqueue, victim selection against
## DefaultPreemption); raw output to docs/bench/
bench-plugins:
	@mkdir -p docs/bench
	$(GO) test -run '^$$' -bench . -benchmem -count=6 ./pkg/plugins/strandingawarepacking ./pkg/plugins/predictabledemands ./pkg/plugins/qosawarepreemption | tee docs/bench/plugins.txt

## bench-simulator: 10,000 openb trace pods on the 1,523 openb nodes with snug's profile
bench-simulator:
	SNUG_TRACE_SCALE=1 $(GO) test -count=1 -run TestTraceScale -v ./pkg/simulator | grep -E 'pods on|ok|FAIL'

## upstream-descheduler: bin/upstream-descheduler, the upstream descheduler
## v0.36.0 (its in-tree plugins) built from the module graph, for the
## futile-eviction comparison (TestDeschedulerStrategies builds it itself
## into a temporary directory when bin/ has none)
.PHONY: upstream-descheduler descheduler-peer-report
upstream-descheduler:
	$(GO) build -o $(BIN)/upstream-descheduler sigs.k8s.io/descheduler/cmd/descheduler

## descheduler-peer-report: snug's and upstream's descheduler on the same
## integration scenarios, each replacement watched for 60 s; the table of
## futile evictions (docs/descheduler.md) goes to $(BIN)/descheduler-peer-report.md
descheduler-peer-report: controlplane upstream-descheduler
	SNUG_CONTROLPLANE_BIN=$(abspath $(CP_BIN)) SNUG_UPSTREAM_DESCHEDULER=$(abspath $(BIN)/upstream-descheduler) \
		SNUG_PEER_REPORT=$(abspath $(BIN)/descheduler-peer-report.md) \
		$(GO) test -count=1 -timeout 20m -v -run '^TestDeschedulerStrategies$$' ./test/integration/
	cat $(BIN)/descheduler-peer-report.md

## bench-descheduler: issue 17's descheduler numbers (test/benchmark/descheduler;
## about 10 minutes on two cores; not part of make test): planning time and
## peak memory of a dry run of all six strategies over a synthetic cluster of
## 5,000 nodes and 50,000 pods, then stranded GPUs and nodes in use before and
## after one HighNodeUtilization + LowNodeUtilization pass over the openb trace
## left fragmented by a default-profile churn replay (SNUG_OPENB_DIR), written
## to docs/descheduler-benchmarks.md.
BENCH_DESCHED_OUT ?= $(BIN)/bench-descheduler
.PHONY: bench-descheduler
bench-descheduler:
	mkdir -p $(BENCH_DESCHED_OUT) docs
	$(GO) build -o $(BENCH_DESCHED_OUT)/bench-descheduler ./test/benchmark/descheduler/cmd/bench-descheduler
	$(BENCH_DESCHED_OUT)/bench-descheduler -nodes 5000 -pods 50000 -openb $(SNUG_OPENB_DIR) \
		-json $(BENCH_DESCHED_OUT)/results.json -doc docs/descheduler-benchmarks.md \
		-analysis test/benchmark/descheduler/analysis.md \
		-command "make bench-descheduler" -revision "$$(git rev-parse --short HEAD 2>/dev/null)"
