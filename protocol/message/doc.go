// Package message is the Web4 profile v1 message catalogue: the CBOR structures of binding,
// pairing and validation, their deterministic encoding, strict decoding, semantic checks, and
// the verify and open paths of the signed and sealed ones.
//
// Every structure is a CBOR map with small integer keys, encoded with RFC 8949 core
// deterministic encoding. Key 0 of every top-level structure is its 8-bit version (1 in profile
// v1). Decoders are strict: input must be exactly the deterministic encoding of a valid
// structure, so a structure has one byte form and a signature over it has one meaning. Every
// failure maps to a sentinel error (see errors.go) that callers and tests can tell apart with
// errors.Is. The normative description is docs/protocol.md section 4.
//
// The package reads no clock: every time check takes the caller's now.
package message
