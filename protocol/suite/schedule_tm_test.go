package suite

import (
	"bytes"
	"testing"
)

func TestTelemetryMACKeyIsSeparate(t *testing.T) {
	half := bytes.Repeat([]byte{0x11}, HalfSize)
	p := DerivePairingKeys(bytes.Repeat([]byte{0x22}, SecretSize), half, half, make([]byte, 32), []byte("pairing-id"), "battery_management")
	k := p.TelemetryMACKey()
	want := HKDF(p.Key[:], nil, "telemetry mac", nil, 32)
	if !bytes.Equal(k[:], want) {
		t.Fatalf("K_TM = %x, want %x", k, want)
	}
	if k == p.Telemetry || k == p.AtoB || k == p.BtoA {
		t.Fatal("K_TM equals another key of the pairing")
	}
}
