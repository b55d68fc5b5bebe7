// Package repocheck holds the tests of the repository's own checks
// (scripts/check-size.sh, run by make check). It has no code of its own.
package repocheck
