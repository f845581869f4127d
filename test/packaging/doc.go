// Package packaging holds the tests of what `make dist` and `make deb`
// ship: the cross-built binaries (static ELF files for each architecture)
// and the Debian packages (their contents, and an install and purge on
// this machine). It has no code of its own.
package packaging
