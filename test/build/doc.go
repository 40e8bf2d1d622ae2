// Package build tests what snug ships: the binaries `make build` makes
// (statically linked, version stamped) and the image the Dockerfile would
// build from them. No container engine is needed: the Dockerfile and
// .dockerignore are checked against the Makefile and the Go package graph.
package build
