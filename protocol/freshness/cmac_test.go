package freshness

import (
	"crypto/aes"
	"encoding/hex"
	"testing"
)

// RFC 4493 section 4 (AES-128) and NIST SP 800-38B appendix D (AES-256) examples.
var cmacMsg, _ = hex.DecodeString("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51" +
	"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")

func TestCMACVectors(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want string
	}{
		{"2b7e151628aed2a6abf7158809cf4f3c", 0, "bb1d6929e95937287fa37d129b756746"},
		{"2b7e151628aed2a6abf7158809cf4f3c", 16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{"2b7e151628aed2a6abf7158809cf4f3c", 40, "dfa66747de9ae63030ca32611497c827"},
		{"2b7e151628aed2a6abf7158809cf4f3c", 64, "51f0bebf7e3b9d92fc49741779363cfe"},
		{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", 0, "028962f61b7bf89efc6b551f4667d983"},
		{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", 16, "28a7023f452e8f82bd4bf28d8c37c35c"},
		{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", 40, "aaf3d8f1de5640c232f5b169b9c911e6"},
		{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", 64, "e1992190549f6ed5696a2c056c315410"},
	}
	for _, tc := range tests {
		m := mustCMAC(t, tc.key)
		got := m.Sum(cmacMsg[:tc.n])
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("key %s… len %d: %x, want %s", tc.key[:8], tc.n, got, tc.want)
		}
		// Any split into parts gives the same tag.
		for cut := 0; cut <= tc.n; cut += 7 {
			if p := m.Sum(cmacMsg[:cut], nil, cmacMsg[cut:tc.n]); p != got {
				t.Errorf("split at %d differs", cut)
			}
		}
	}
	// RFC 4493 subkeys for the AES-128 key.
	m := mustCMAC(t, "2b7e151628aed2a6abf7158809cf4f3c")
	if hex.EncodeToString(m.k1[:]) != "fbeed618357133667c85e08f7236a8de" || hex.EncodeToString(m.k2[:]) != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("subkeys %x %x", m.k1, m.k2)
	}
}

// Odd lengths, checked against another implementation (Python cryptography's CMAC).
func TestCMACLengths(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	want := map[int]string{
		1: "107f33475a34929cd9844f33d0573233", 15: "c3e6acd6e5f0241cd412d4542dfc68af",
		17: "2f27d64c9702142daa1a79049ea199ac", 31: "a1cb9f4f0a4563b82a2cccf866b4a3f2",
		33: "fa53efd40cf3e3115dfc96e0ba364468", 100: "de737095d0c81036f7728d246e3517b8",
	}
	m := mustCMAC(t, hex.EncodeToString(key))
	for n, w := range want {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i)
		}
		if got := m.Sum(msg); hex.EncodeToString(got[:]) != w {
			t.Errorf("len %d: %x", n, got)
		}
	}
}

func mustCMAC(tb testing.TB, keyHex string) *CMAC {
	key, _ := hex.DecodeString(keyHex)
	b, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := NewCMAC(b)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
