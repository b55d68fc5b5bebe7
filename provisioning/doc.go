// Package provisioning owns onair's configuration: the schema (Config, one
// section per subsystem, each the subsystem's own plain Config type), the
// decoder that reports every problem at once with its path, and validation.
//
// Decode and Load are pure: they touch no hardware or network, so a bad
// config is rejected before anything that is running is disturbed. Secrets
// (tokens, API secrets, passphrases, passwords) are conf.Secret values and
// never appear in output, logs or errors.
//
// Decoding is bounded for untrusted input: a document is at most
// MaxDocumentSize bytes, YAML aliases and << merges may expand it only to
// ten times its own nodes (a "merge bomb" is one error), at most
// MaxProblems problems are reported, and DecodeContext and LoadContext stop
// when their context is done.
package provisioning
