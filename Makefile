# Build, test and install the Mender Docker update module.
GO        ?= go
PREFIX    ?= /usr
DESTDIR   ?=
# One version for both binaries and the packages, in Debian's syntax (it
# must start with a digit): on a tag, the tag (v dropped); elsewhere the
# last tag, or 0.0, then ~git<commit date>.<commit>, which sorts before
# the tag's own; +dirty with uncommitted changes.
VERSION ?= $(shell t=$$(git describe --tags --abbrev=0 2>/dev/null); \
	if [ -n "$$t" ] && [ "$$(git rev-list -n1 "$$t" 2>/dev/null)" = "$$(git rev-parse HEAD 2>/dev/null)" ]; then v=$$(echo $$t | sed 's/^v//'); \
	else v="$$(echo $${t:-0.0} | sed 's/^v//')~git$$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null).$$(git rev-parse --short HEAD 2>/dev/null)"; fi; \
	git diff --quiet HEAD 2>/dev/null || v="$$v+dirty"; echo "$$v")
# Stamped into the module (main.version) and the generator (cli.version).
GOFLAGS_STATIC = -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X github.com/mender-docker/mender-docker/artifactgen/cli.version=$(VERSION)"
MODULE_DIR = $(DESTDIR)$(PREFIX)/share/mender/modules/v3

.PHONY: help build version dist deb cross test unit lint fuzz setup bench install install-gen demo clean fmt vet

# `make fuzz` (also the end of `make test`) runs each fuzz target for
# FUZZTIME; minimizing a new interesting input may take FUZZMINTIME of it.
FUZZTIME    ?= 10s
FUZZMINTIME ?= 1s
# Go 1.26's fuzz engine may fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out (go.dev/issue/75804, fixed in Go
# 1.27): that alone, with no failing input written, is run again, up to three times in all (it hits about one target a run here).
FUZZLOG     ?= /tmp/mender-docker-fuzz-$$$$.log

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

BIN ?= bin

build: ## build bin/docker (the module, static) and bin/docker-artifact-gen (BIN=DIR elsewhere)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_STATIC) -o $(BIN)/docker ./cmd/docker
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_STATIC) -o $(BIN)/docker-artifact-gen ./cmd/docker-artifact-gen

version: ## print the version that build, dist and deb stamp into the binaries and packages
	@echo "$(VERSION)"

# `make dist` cross-builds static, stripped binaries into DIST: the module
# for every device architecture, the generator for workstations and CI.
# PLATFORM is GOOS/GOARCH[/GOARM]; the file name ends in os-arch[vN].
DIST            ?= dist
MODULE_PLATFORMS ?= linux/amd64 linux/arm64 linux/arm/7 linux/riscv64
GEN_PLATFORMS    ?= linux/amd64 linux/arm64 linux/arm/7

dist: ## static stripped binaries: DIST/docker-linux-{amd64,arm64,armv7,riscv64}, DIST/docker-artifact-gen-linux-{amd64,arm64,armv7}
	@mkdir -p $(DIST)
	@set -e; build() { \
		cmd=$$1; p=$$2; os=$${p%%/*}; rest=$${p#*/}; arch=$${rest%%/*}; arm=; \
		case $$rest in */*) arm=$${rest#*/};; esac; \
		out=$(DIST)/$$cmd-$$os-$$arch$${arm:+v$$arm}; echo "  $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build $(GOFLAGS_STATIC) -o $$out ./cmd/$$cmd; \
	}; \
	for p in $(MODULE_PLATFORMS); do build docker $$p; done; \
	for p in $(GEN_PLATFORMS); do build docker-artifact-gen $$p; done
	cd $(DIST) && sha256sum docker-* > SHA256SUMS

cross: dist ## the same as dist

DEB_ARCHES ?= amd64,arm64,armhf

# -mod=mod: packaging/ is its own module over this one (replace ..), so its
# go.sum follows this module's requirements as they change.
deb: dist ## Debian packages mender-docker and mender-docker-artifact-gen for amd64, arm64, armhf, in DIST/deb
	cd packaging && $(GO) run -mod=mod ./mkdeb -version "$(VERSION)" -dist "$(abspath $(DIST))" -out "$(abspath $(DIST))/deb" -arch "$(DEB_ARCHES)"

setup: ## install Debian packages and start dockerd if needed (root)
	scripts/deps.sh
	scripts/dockerd.sh

test: setup ## every test: unit, contract, real dockerd, real mender client, packages, then make fuzz
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@# test/packaging runs beside the rest: it installs the packages, and
	@# so changes the machine's /usr/share/mender/modules/v3/docker, which
	@# no other test uses (the end-to-end tests bind a directory of their
	@# own over it in a private mount namespace). Both must pass.
	@$(GO) test -count=1 -timeout 15m ./test/packaging/ & pkg=$$!; \
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v /test/packaging); rest=$$?; \
	wait $$pkg; pkgrc=$$?; \
	[ $$rest -eq 0 ] && [ $$pkgrc -eq 0 ] || { echo "make test: go test failed (packaging $$pkgrc, the rest $$rest)"; exit 1; }
	$(MAKE) fuzz

fuzz: ## run every Fuzz* target of the repository for FUZZTIME (default 10s) each
	@set -e; for f in $$(git grep -l --untracked '^func Fuzz' -- '*_test.go'); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "$(GO) test -run='^$$' -fuzz='^$$t$$' -fuzztime=$(FUZZTIME) ./$$(dirname $$f)"; \
			for try in 1 2 3; do \
				rc=0; $(GO) test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINTIME) ./$$(dirname $$f) >$(FUZZLOG) 2>&1 || rc=$$?; cat $(FUZZLOG); \
				[ $$rc -ne 0 ] || break; \
				if [ $$try != 3 ] && grep -q '^    context deadline exceeded$$' $(FUZZLOG) && ! grep -q 'Failing input written' $(FUZZLOG); then \
					echo "$$t: the fuzz engine's own deadline race at -fuzztime (go.dev/issue/75804, fixed in Go 1.27), no failing input: again"; \
					continue; \
				fi; \
				rm -f $(FUZZLOG); exit 1; \
			done; \
		done; \
	done; rm -f $(FUZZLOG)

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	cd packaging && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

unit: ## fast tests only (no dockerd, no mender)
	$(GO) test -count=1 ./module/...

bench: setup build ## downtime, install time, size and memory against the shell module
	$(GO) run ./test/bench

install: build ## install the module (PREFIX/share/mender/modules/v3/docker, linked as PREFIX/bin/mender-docker), its inventory script and Mender Configure apply script (/usr/lib/mender-configure, outside PREFIX: where Mender Configure looks); DESTDIR too
	install -d $(MODULE_DIR) $(DESTDIR)$(PREFIX)/share/mender/inventory $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/docker $(MODULE_DIR)/docker
	ln -sf ../share/mender/modules/v3/docker $(DESTDIR)$(PREFIX)/bin/mender-docker
	install -m 0755 scripts/mender-inventory-docker $(DESTDIR)$(PREFIX)/share/mender/inventory/mender-inventory-docker
	install -d $(DESTDIR)/usr/lib/mender-configure/apply-device-config.d
	sed 's|/usr/bin/mender-docker|$(PREFIX)/bin/mender-docker|' scripts/mender-configure-apply >$(DESTDIR)/usr/lib/mender-configure/apply-device-config.d/mender-docker
	chmod 0755 $(DESTDIR)/usr/lib/mender-configure/apply-device-config.d/mender-docker

install-gen: build ## install docker-artifact-gen in PREFIX/bin (for workstations)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/docker-artifact-gen $(DESTDIR)$(PREFIX)/bin/docker-artifact-gen

demo: setup build ## install v1 of a demo app with mender, update to v2, roll back
	scripts/demo.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
