// Package authority is the Web4 auth controller (the "API-Bridge"): an HTTP service on loopback
// that binds entities (app, pack controller, modules), issues pairing certificates per context,
// accepts handshake completions (L6), revokes and modifies pairings (L6), validates bindings (L7),
// and records every event in an append-only, hash-chained ledger kept in bbolt.
//
// The authority is zero-knowledge towards operational keys: devices generate their own binding
// key pairs (the authority asks for the public half through a KeyGenerator and never sees a
// private key), and the key halves and exchange key of a pairing certificate are erased as soon
// as the certificate is built. Its only private key is its own signing key. docs/authority.md
// describes the HTTP API, what is stored, and the ledger format.
//
// Time comes from a clock.Clock and randomness from an io.Reader, both given in Options, so a
// test run is deterministic.
package authority
