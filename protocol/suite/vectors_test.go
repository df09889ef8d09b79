package suite

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 5869 appendix A, test cases 1 and 3, for the HKDF core.
func TestHKDFRFC5869(t *testing.T) {
	tests := []struct {
		name            string
		ikm, salt, info string
		okm             string
	}{
		{
			name: "case 1",
			ikm:  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
			salt: "000102030405060708090a0b0c",
			info: "f0f1f2f3f4f5f6f7f8f9",
			okm:  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
		},
		{
			name: "case 3",
			ikm:  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
			okm:  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.okm)
			got := hkdfRaw(unhex(t, tc.ikm), unhex(t, tc.salt), unhex(t, tc.info), len(want))
			if !bytes.Equal(got, want) {
				t.Fatalf("OKM %x, want %x", got, want)
			}
		})
	}
}

// HKDF with a label is HKDF with info "web4/v1/" || label || 0x00 || info.
func TestHKDFLabel(t *testing.T) {
	secret, salt := []byte("secret"), []byte("salt")
	got := HKDF(secret, salt, "x", []byte{1, 2}, 32)
	want := hkdfRaw(secret, salt, []byte("web4/v1/x\x00\x01\x02"), 32)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	// The separator keeps label/info splits apart.
	if bytes.Equal(HKDF(secret, salt, "ab", []byte("c"), 32), HKDF(secret, salt, "a", []byte("bc"), 32)) {
		t.Fatal("label/info split is ambiguous")
	}
}

// COSE WG example ecdsa-examples/ecdsa-sig-01 (COSE_Sign1, ES256): key import, the
// Sig_structure bytes, and verification of the published signature.
func TestCOSEWGSign1Example(t *testing.T) {
	k, err := NewPrivateKey(unb64(t, "V8kgd2ZBRuh2dgyVINBUqpPDr7BOMGcF22CQMIUHtNM"))
	if err != nil {
		t.Fatal(err)
	}
	wantPub := append(append([]byte{4}, unb64(t, "usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8")...),
		unb64(t, "IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4")...)
	if !bytes.Equal(k.Public().Bytes(), wantPub) {
		t.Fatalf("public key %x, want %x", k.Public().Bytes(), wantPub)
	}
	tbs, err := sigStructure(unhex(t, "A201260300"), nil, []byte("This is the content."))
	if err != nil {
		t.Fatal(err)
	}
	wantTBS := unhex(t, "846A5369676E61747572653145A2012603004054546869732069732074686520636F6E74656E742E")
	if !bytes.Equal(tbs, wantTBS) {
		t.Fatalf("ToBeSigned %x, want %x", tbs, wantTBS)
	}
	sig := unhex(t, "EAE868ECC176883766C5DC5BA5B8DCA25DAB3C2E56A551CE5705B793914348E172727F48461FABBBA2E343492DDECAC3983686250BC68E9F1A7A07D41225B59F")
	if !verifyRaw(k.Public(), tbs, sig) {
		t.Fatal("published signature does not verify")
	}
	sig[5] ^= 1
	if verifyRaw(k.Public(), tbs, sig) {
		t.Fatal("altered signature verifies")
	}
}

// COSE WG example ecdh-direct-examples/p256-hkdf-256-01 (ECDH-ES + HKDF-256, direct, A128GCM):
// the ECDH secret, COSE_KDF_Context, the content key, Enc_structure and the decryption. Profile
// v1 differs only in the content algorithm (A256GCM, 256-bit key) and the kid length.
func TestCOSEWGECDHDirectExample(t *testing.T) {
	recipient, err := NewPrivateKey(unb64(t, "r_kHyZ-a06rmxM3yESK84r1otSg-aQcVStkRhA-iCM8"))
	if err != nil {
		t.Fatal(err)
	}
	eph, err := NewPrivateKey(unhex(t, "02D1F7E6F26C43D4868D87CEB2353161740AACF1F7163647984B522A848DF1C3"))
	if err != nil {
		t.Fatal(err)
	}
	wantEph := append(append([]byte{4}, unhex(t, "98F50A4FF6C05861C8860D13A638EA56C3F5AD7590BBFBF054E1C7B4D91D6280")...),
		unhex(t, "F01400B089867804B8E9FC96C3932161F1934F4223069170D924B7E03BF822BB")...)
	if !bytes.Equal(eph.Public().Bytes(), wantEph) {
		t.Fatal("ephemeral public key differs from the example")
	}
	secret, err := ECDH(eph, recipient.Public())
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "4B31712E096E5F20B4ECF9790FD8CC7C8B7E2C8AD90BDA81CB224F62C0E7B9A6"); !bytes.Equal(secret, want) {
		t.Fatalf("ECDH secret %x, want %x", secret, want)
	}
	secret2, err := ECDH(recipient, eph.Public())
	if err != nil || !bytes.Equal(secret, secret2) {
		t.Fatal("ECDH is not symmetric")
	}
	rprot := unhex(t, "A1013818")
	ctx, err := kdfContext(1, 128, rprot)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "840183F6F6F683F6F6F682188044A1013818"); !bytes.Equal(ctx, want) {
		t.Fatalf("COSE_KDF_Context %x, want %x", ctx, want)
	}
	cek := hkdfRaw(secret, nil, ctx, 16)
	if want := unhex(t, "56074D506729CA40C4B4FE50C6439893"); !bytes.Equal(cek, want) {
		t.Fatalf("CEK %x, want %x", cek, want)
	}
	aad, err := encStructure(unhex(t, "A10101"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "8367456E637279707443A1010140"); !bytes.Equal(aad, want) {
		t.Fatalf("Enc_structure %x, want %x", aad, want)
	}
	aead, err := newGCM(cek)
	if err != nil {
		t.Fatal(err)
	}
	ct := unhex(t, "7ADBE2709CA818FB415F1E5DF66F4E1A51053BA6D65A1A0C52A357DA7A644B8070A151B0")
	pt, err := aead.Open(nil, unhex(t, "C9CF4DF2FE6C632BF7886413"), ct, aad)
	if err != nil || string(pt) != "This is the content." {
		t.Fatalf("decrypt: %q, %v", pt, err)
	}
	// The example's message is A128GCM: Open must say so, not fail obscurely.
	msg := unhex(t, "D8608443A10101A1054CC9CF4DF2FE6C632BF788641358247ADBE2709CA818FB415F1E5DF66F4E1A51053BA6D65A1A0C52A357DA7A644B8070A151B0818344A1013818A220A40102200121582098F50A4FF6C05861C8860D13A638EA56C3F5AD7590BBFBF054E1C7B4D91D6280225820F01400B089867804B8E9FC96C3932161F1934F4223069170D924B7E03BF822BB0458246D65726961646F632E6272616E64796275636B406275636B6C616E642E6578616D706C6540")
	if _, err := Open(recipient, msg, nil); !isErr(err, ErrUnsupportedAlg) {
		t.Fatalf("Open(A128GCM example) = %v, want ErrUnsupportedAlg", err)
	}
}
