package suite

// Op names a cryptographic operation whose cost an emulated device charges from its MCU
// profile. The suite's functions are listed with the operations they amount to, so a device
// layer can charge a call without looking inside it:
//
//	GenerateKey            OpKeyGen
//	Sign1                  OpSign
//	Verify1                OpVerify
//	ECDH, BindingSecret    OpECDH (+ OpHKDF)
//	Seal                   OpSealCOSE  = OpKeyGen + OpECDH + OpHKDF + AEADBlocks
//	Open                   OpOpenCOSE  = OpECDH + OpHKDF + AEADBlocks
//	HKDF and the schedule  OpHKDF per derived output
//	Channel.Seal/Open      OpAEADBlock × AEADBlocks(len(plaintext), aad length)
//	AES-CMAC (truncated)   OpAEADBlock per 16-byte block, plus one
//	HMAC-SHA256            OpHashBlock × HashBlocks(message length)
type Op uint8

const (
	OpKeyGen    Op = iota + 1 // P-256 key pair generation (one scalar multiplication)
	OpSign                    // ECDSA P-256 signature
	OpVerify                  // ECDSA P-256 verification
	OpECDH                    // P-256 ECDH (one scalar multiplication)
	OpSealCOSE                // COSE_Encrypt to a public key: ephemeral key, ECDH, HKDF, AES-GCM
	OpOpenCOSE                // COSE_Encrypt opened with a private key: ECDH, HKDF, AES-GCM
	OpHKDF                    // one HKDF-SHA256 extract and expand (a few SHA-256 blocks)
	OpAEADBlock               // one 16-byte block of AES-256-GCM (AES plus GHASH)
	OpHashBlock               // one 64-byte SHA-256 compression (HMAC proofs)
)

func (o Op) String() string {
	switch o {
	case OpKeyGen:
		return "keygen"
	case OpSign:
		return "sign"
	case OpVerify:
		return "verify"
	case OpECDH:
		return "ecdh"
	case OpSealCOSE:
		return "seal-cose"
	case OpOpenCOSE:
		return "open-cose"
	case OpHKDF:
		return "hkdf"
	case OpAEADBlock:
		return "aead-block"
	case OpHashBlock:
		return "hash-block"
	}
	return "unknown-op"
}

// AEADBlocks is the number of 16-byte blocks AES-256-GCM processes for a message: the
// plaintext blocks (each one AES and one GHASH), the authenticated-data blocks (GHASH), and
// two fixed blocks (the tag mask and the length block). A device charges OpAEADBlock this
// many times; counting GHASH-only blocks as whole blocks slightly overstates software costs,
// which errs on the safe side for a latency budget.
func AEADBlocks(plaintextLen, aadLen int) int {
	if plaintextLen < 0 {
		plaintextLen = 0
	}
	if aadLen < 0 {
		aadLen = 0
	}
	return (plaintextLen+15)/16 + (aadLen+15)/16 + 2
}

// HashBlocks is the number of SHA-256 compressions of an HMAC-SHA256 over n bytes: the padded
// inner hash over the 64-byte key block and the message, and the outer hash over the key block
// and the 32-byte inner digest.
func HashBlocks(n int) int {
	if n < 0 {
		n = 0
	}
	return 1 + (n+9+63)/64 + 2
}
