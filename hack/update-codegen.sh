#!/usr/bin/env bash
# Regenerates deepcopy, conversion and defaulter code for snug's config API
# with the code-generator pinned as a tool in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
hdr=hack/boilerplate.go.txt
go tool deepcopy-gen --go-header-file "$hdr" --output-file zz_generated.deepcopy.go \
  ./pkg/apis/config ./pkg/apis/config/v1
go tool defaulter-gen --go-header-file "$hdr" --output-file zz_generated.defaults.go \
  ./pkg/apis/config/v1
go tool conversion-gen --go-header-file "$hdr" --output-file zz_generated.conversion.go \
  ./pkg/apis/config/v1
