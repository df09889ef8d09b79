package message

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

// samples returns a valid instance of every top-level structure of the catalogue.
func samples(t testing.TB) map[string]Structure {
	w := newWorld(t)
	now := t0.Unix()
	h := bytes.Repeat([]byte{0xab}, 32)
	st := uint8(3)
	esc := &Escalation{V: Version1, Target: L5PairedCommand, Reason: ReasonTempStep, Urgency: UrgencyHigh, Source: 0x01, Count: 2, At: now}
	kid := w.module.Public().KID()
	return map[string]Structure{
		"GenerateKeysRequest":  &GenerateKeysRequest{V: Version1, PartnerAccessData: w.md.Entities[0].Access},
		"GenerateKeysResponse": &GenerateKeysResponse{V: Version1, SemiPublicKey: w.module.Public().Bytes(), BindingID: []byte("binding-00000001"), KID: kid, Alg: AlgES256},
		"BindingClaims": &BindingClaims{V: Version1, Issuer: "auth-01", Subject: "BM-00001", Audience: "PC-12345",
			Expires: now + 86400*365, NotBefore: now, IssuedAt: now, BindingID: []byte("binding-00000001"),
			Cnf: Confirmation{Key: KeyToCOSE(w.module.Public())}, Role: RoleModule, Access: w.md.Entities[1].Access},
		"PairingMetadata":  w.md,
		"EntitySection":    &EntitySection{V: Version1, PairingID: w.md.PairingID, Index: 1, KeyHalf: h, ExchangeKey: h, MetadataHash: h},
		"HandshakeSection": &HandshakeSection{V: Version1, PairingID: w.md.PairingID, ValidationNonce: h[:16], MetadataHash: h},
		"PairingCertificate": &PairingCertificate{V: Version1, Metadata: []byte{0xd2}, SectionA: []byte{0xd8, 0x60},
			SectionB: []byte{0xd8, 0x60}, Handshake: []byte{0xd0}},
		"KeyHalf": &KeyHalf{V: Version1, PairingID: w.md.PairingID, Index: 0, Context: ContextBatteryManagement, Half: h},
		"Completion": &Completion{V: Version1, PairingID: w.md.PairingID, ValidationNonce: h[:16], MetadataHash: h, CompletedAt: now,
			Proofs: []Proof{{Index: 0, Alg: AlgES256, KID: 0x1234, Tag: bytes.Repeat(h, 2)}, {Index: 1, Alg: AlgHMAC256, KID: 0x4321, Tag: h}}},
		"Announce": &Announce{V: Version1, Kind: AnnounceImage, EntityID: "BM-00001", Role: RoleModule, Addr: 1, State: StatePaired,
			ImageVersion: "1.4.2+g3f2a", ImageHash: h, KID: &kid, At: now},
		"Witness": &Witness{V: Version1, Witness: "PC-12345", Subject: "BM-00001", Event: EventStateChange, ObservedHash: h, ObservedAt: now, State: &st},
		"SignedHandshake": &SignedHandshake{V: Version1, Step: StepReply, BindingID: []byte("binding-00000001"), From: "BM-00001", To: "PC-12345",
			Nonce: h[:16], PeerNonce: h[16:], At: now},
		"PairedHandshake": &PairedHandshake{V: Version1, Step: StepHello, PairingID: w.md.PairingID, Nonce: h[:16], LastCounter: 1 << 20, At: now},
		"Command": &Command{V: Version1, Code: CmdSafetyLimits, Seq: 9, IssuedAt: now, Target: 1, CellMaxMV: u16(4200), CellMinMV: u16(2800),
			TempMaxDC: ptr[int16](550), TempMinDC: ptr[int16](-200), CurrentMax: u16(1500)},
		"Ack":        &Ack{V: Version1, Seq: 9, Status: StatusOK, CommandHash: h, At: now, State: &st},
		"Escalation": esc,
		"Telemetry": &Telemetry{V: Version1, Seq: 100, At: now, Addr: 1, State: 3, SOC: 160, VoltageMV: 51800, CurrentMA: -12500,
			CellMinMV: 3702, CellMaxMV: 3721, TempMinDC: 241, TempMaxDC: 268, Escalation: esc},
		"PairingValidation": &PairingValidation{V: Version1, Kind: PairingCompleted, PairingID: w.md.PairingID, IssuedAt: now, CompletionHash: h},
		"BindingValidation": &BindingValidation{V: Version1, Kind: BindingEstablished, BindingID: []byte("binding-00000001"),
			Entities: []string{"PC-12345", "BM-00001"}, KIDs: []uint16{1, 2}, BlockchainProof: h, IssuedAt: now},
		"ValidationResult": &ValidationResult{V: Version1, Level: L7BindingValidation, Subject: []byte("binding-00000001"), Verdict: VerdictValid, Ref: h, At: now},
	}
}

func ptr[T any](v T) *T { return &v }

// decoders maps each structure to its exported decoder.
var decoders = map[string]func([]byte) (Structure, error){
	"GenerateKeysRequest":  func(b []byte) (Structure, error) { return DecodeGenerateKeysRequest(b) },
	"GenerateKeysResponse": func(b []byte) (Structure, error) { return DecodeGenerateKeysResponse(b) },
	"BindingClaims":        func(b []byte) (Structure, error) { return DecodeBindingClaims(b) },
	"PairingMetadata":      func(b []byte) (Structure, error) { return DecodePairingMetadata(b) },
	"EntitySection":        func(b []byte) (Structure, error) { return DecodeEntitySection(b) },
	"HandshakeSection":     func(b []byte) (Structure, error) { return DecodeHandshakeSection(b) },
	"PairingCertificate":   func(b []byte) (Structure, error) { return DecodePairingCertificate(b) },
	"KeyHalf":              func(b []byte) (Structure, error) { return DecodeKeyHalf(b) },
	"Completion":           func(b []byte) (Structure, error) { return DecodeCompletion(b) },
	"Announce":             func(b []byte) (Structure, error) { return DecodeAnnounce(b) },
	"Witness":              func(b []byte) (Structure, error) { return DecodeWitness(b) },
	"SignedHandshake":      func(b []byte) (Structure, error) { return DecodeSignedHandshake(b) },
	"PairedHandshake":      func(b []byte) (Structure, error) { return DecodePairedHandshake(b) },
	"Command":              func(b []byte) (Structure, error) { return DecodeCommand(b) },
	"Ack":                  func(b []byte) (Structure, error) { return DecodeAck(b) },
	"Escalation":           func(b []byte) (Structure, error) { return DecodeEscalation(b) },
	"Telemetry":            func(b []byte) (Structure, error) { return DecodeTelemetry(b) },
	"PairingValidation":    func(b []byte) (Structure, error) { return DecodePairingValidation(b) },
	"BindingValidation":    func(b []byte) (Structure, error) { return DecodeBindingValidation(b) },
	"ValidationResult":     func(b []byte) (Structure, error) { return DecodeValidationResult(b) },
}

func TestRoundTrip(t *testing.T) {
	for name, m := range samples(t) {
		enc, err := encode(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := decoders[name](enc)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: round trip differs:\n got %+v\nwant %+v", name, got, m)
		}
	}
}

// TestGoldenEscalation pins one structure's bytes so an encoder change shows.
func TestGoldenEscalation(t *testing.T) {
	m := &Escalation{V: 1, Target: L7BindingValidation, Reason: ReasonKeyLoss, Urgency: UrgencyCritical, Source: 0x01, At: 1767268800}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// {0: 1, 1: 7, 2: 7, 3: 3, 4: 1, 6: 1767268800}
	const want = "a600010107020703030401061a695661c0"
	if got := hex.EncodeToString(enc); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestStrictDecode(t *testing.T) {
	esc, _ := (&Escalation{V: 1, Target: 5, Reason: 1, Urgency: 1, Source: 1, At: 1767268800}).Encode()
	cases := []struct {
		name string
		in   string // hex
		want error
	}{
		{"empty", "", ErrMalformed},
		{"not a map", "01", ErrWrongType},
		{"array", "80", ErrWrongType},
		{"trailing byte", hex.EncodeToString(esc) + "00", ErrMalformed},
		{"truncated", hex.EncodeToString(esc[:len(esc)-1]), ErrMalformed},
		{"no version", "a50105020103010401061a695661c0", ErrMissingField},
		{"version 2", "a6000201050201030104010" + "61a695661c0", ErrVersion},
		{"version as text", "a6006131010502010301040106" + "1a695661c0", ErrWrongType},
		{"missing target", "a500010201030104010" + "61a695661c0", ErrMissingField},
		{"unknown key", "a70001010502010301040106" + "1a695661c0" + "1863" + "00", ErrUnknownField},
		{"text key", "a7000101050201030104010" + "61a695661c0" + "617800", ErrWrongType},
		{"duplicate key", "a7000101050105020103010401061a695661c0", ErrMalformed},
		{"wrong type target", "a600010141050201030104010" + "61a695661c0", ErrWrongType},
		{"overflow uint8", "a60001011901000201030104010" + "61a695661c0", ErrWrongType},
		{"null value", "a60001" + "01f6" + "0201030104010" + "61a695661c0", ErrWrongType},
		{"non-minimal int", "a600010118050201030104010" + "61a695661c0", ErrNonCanonical},
		{"unsorted keys", "a6010500010201030104010" + "61a695661c0", ErrNonCanonical},
		{"indefinite map", "bf000101050201030104010" + "61a695661c0ff", ErrMalformed},
		{"tagged", "c1a6000101050201030104010" + "61a695661c0", ErrMalformed},
		{"target out of range", "a6000101090201030104010" + "61a695661c0", ErrInvalid},
		{"oversize", hex.EncodeToString(bytes.Repeat([]byte{0}, MaxMessageSize+1)), ErrSize},
	}
	for _, c := range cases {
		in, err := hex.DecodeString(c.in)
		if err != nil {
			t.Fatalf("%s: bad hex", c.name)
		}
		_, err = DecodeEscalation(in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := DecodeEscalation(esc); err != nil {
		t.Fatal(err)
	}
}

func TestJSONShapes(t *testing.T) {
	req := []byte(`{"partner_access_data":{"type":"can","chain_id":"web4-test","device_id":"PC-12345","endpoint":"0x40"}}`)
	m, err := DecodeGenerateKeysRequestJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := m.EncodeJSON()
	if !bytes.Equal(out, req) {
		t.Fatalf("request JSON %s", out)
	}
	if _, err := DecodeGenerateKeysRequestJSON([]byte(`{"partner_access_data":{"type":"can"},"x":1}`)); !errors.Is(err, ErrUnknownField) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := DecodeGenerateKeysRequestJSON([]byte(`{"partner_access_data":{"type":"can","chain_id":"c","device_id":"d"}}`)); !errors.Is(err, ErrMissingField) {
		t.Fatalf("missing endpoint: %v", err)
	}
	w := newWorld(t)
	resp := &GenerateKeysResponse{V: Version1, SemiPublicKey: w.module.Public().Bytes(), BindingID: []byte("binding-00000001"), KID: w.module.Public().KID(), Alg: AlgES256}
	js, err := resp.EncodeJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeGenerateKeysResponseJSON(js, func(b []byte) uint16 { return w.module.Public().KID() })
	if err != nil || !reflect.DeepEqual(back, resp) {
		t.Fatalf("response JSON round trip: %v %s", err, js)
	}
	if !bytes.Contains(js, []byte(`"binding_id":"62696e64-696e-672d-3030-303030303031"`)) {
		t.Fatalf("response JSON %s", js)
	}
}

func TestTimeChecks(t *testing.T) {
	from, until := t0.Unix(), t0.Add(time.Hour).Unix()
	cases := []struct {
		now  time.Time
		want error
	}{
		{t0, nil},
		{t0.Add(-MaxSkew), nil},
		{t0.Add(-MaxSkew - time.Second), ErrNotYetValid},
		{t0.Add(time.Hour + MaxSkew), nil},
		{t0.Add(time.Hour + MaxSkew + time.Second), ErrExpired},
	}
	for _, c := range cases {
		err := CheckValidity(c.now, from, until)
		if !errors.Is(err, c.want) || (c.want != nil && !errors.Is(err, ErrRepairNeeded)) {
			t.Errorf("now %v: got %v want %v", c.now, err, c.want)
		}
	}
	if err := CheckFreshness(t0.Add(MaxSkew), t0.Unix()); err != nil {
		t.Fatal(err)
	}
	var te *TimeError
	err := CheckFreshness(t0.Add(-MaxSkew-time.Minute), t0.Unix())
	if !errors.Is(err, ErrClockSkew) || !errors.As(err, &te) || te.By != time.Minute {
		t.Fatalf("skew: %v", err)
	}
}
