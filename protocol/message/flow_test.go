package message

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// TestPairingFlow runs binding certificate → pairing certificate → key-half exchange →
// handshake section → pairing keys → completion → L5 command and ACK.
func TestPairingFlow(t *testing.T) {
	w := newWorld(t)
	now := t0.Add(time.Minute)

	claims := &BindingClaims{V: Version1, Issuer: "auth-01", Subject: "BM-00001", Audience: "PC-12345",
		Expires: t0.Add(365 * 24 * time.Hour).Unix(), NotBefore: t0.Unix(), IssuedAt: t0.Unix(),
		BindingID: []byte("binding-00000001"), Cnf: Confirmation{Key: KeyToCOSE(w.module.Public())},
		Role: RoleModule, Access: w.md.Entities[1].Access}
	bc, err := IssueBindingCertificate(w.authority, claims, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, modPub, err := VerifyBindingCertificate(bc, w.authority.Public(), BindingExpect{Issuer: "auth-01", Subject: "BM-00001", Audience: "PC-12345"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !modPub.Equal(w.module.Public()) {
		t.Fatal("binding certificate key differs")
	}

	is := w.issue(t)
	pack, mod := w.open(t, is.Certificate, w.pack), w.open(t, is.Certificate, w.module)
	if pack.Index() != 0 || mod.Index() != 1 {
		t.Fatalf("indices %d %d", pack.Index(), mod.Index())
	}
	idPM, idMP := keyHalfID(canid.AddrPack, 0x01), keyHalfID(0x01, canid.AddrPack)
	khA, err := pack.SealKeyHalf(idPM, 0)
	if err != nil {
		t.Fatal(err)
	}
	khB, err := mod.SealKeyHalf(idMP, 0)
	if err != nil {
		t.Fatal(err)
	}
	halfB, err := pack.OpenKeyHalf(idMP, khB)
	if err != nil {
		t.Fatal(err)
	}
	halfA, err := mod.OpenKeyHalf(idPM, khA)
	if err != nil {
		t.Fatal(err)
	}
	nA, err := pack.OpenHandshake(halfB)
	if err != nil {
		t.Fatal(err)
	}
	nB, err := mod.OpenHandshake(halfA)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nA, is.ValidationNonce) || !bytes.Equal(nB, is.ValidationNonce) {
		t.Fatal("validation nonce differs")
	}

	bsP, _ := suite.BindingSecret(w.pack, w.module.Public())
	bsM, _ := suite.BindingSecret(w.module, w.pack.Public())
	kP, kM := pack.PairingKeys(bsP, halfB), mod.PairingKeys(bsM, halfA)
	if kP.Key != kM.Key {
		t.Fatal("pairing keys differ")
	}

	comp := pack.NewCompletion(nA, now)
	macKey := CompletionMACKey(&kM, w.md.PairingID)
	if err := comp.MACProof(1, macKey, kM.KID); err != nil {
		t.Fatal(err)
	}
	if err := comp.SignProof(0, w.pack, nil); err != nil {
		t.Fatal(err)
	}
	enc, err := comp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCompletion(enc)
	if err != nil {
		t.Fatal(err)
	}
	// The authority checks the pack's signature; the pack (holding the pairing key) the module's MAC.
	if err := VerifyCompletion(got, CompletionExpect{PairingID: w.md.PairingID, ValidationNonce: is.ValidationNonce,
		MetadataHash: is.MetadataHash, Keys: [2]*suite.PublicKey{w.pack.Public(), nil}, Required: [2]bool{true, false}}, now); err != nil {
		t.Fatal(err)
	}
	if err := VerifyCompletion(got, CompletionExpect{PairingID: w.md.PairingID, ValidationNonce: is.ValidationNonce,
		MetadataHash: is.MetadataHash, MACKey: CompletionMACKey(&kP, w.md.PairingID), Required: [2]bool{false, true}}, now); err != nil {
		t.Fatal(err)
	}

	// L5 command pack → module and its ACK.
	cmdID := canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x01, canid.AddrPack)
	ackID := canid.New(canid.TypeCommandAck, true, canid.LevelPairing, canid.AddrPack, 0x01)
	sendP, recvM := suite.NewLevelChannel(kP.Send(true)), suite.NewLevelChannel(kM.Receive(false))
	cmd := &Command{V: Version1, Code: CmdChargeDischarge, Seq: 7, IssuedAt: now.Unix(), Target: 0x01,
		ChargeEnable: bptr(true), DischargeEnable: bptr(true), ChargeLimit: u16(500), DischargeLimit: u16(1000)}
	env, err := SealMessage(sendP, cmdID, 1, cmd)
	if err != nil {
		t.Fatal(err)
	}
	ctr, gotCmd, pt, err := OpenCommand(recvM, cmdID, env)
	if err != nil || ctr != 1 || gotCmd.Seq != 7 {
		t.Fatalf("open command: %v ctr %d", err, ctr)
	}
	ackEnv, err := SealMessage(suite.NewLevelChannel(kM.Send(false)), ackID, 1, NewAck(gotCmd, pt, StatusOK, now))
	if err != nil {
		t.Fatal(err)
	}
	_, ack, err := OpenAck(suite.NewLevelChannel(kP.Receive(true)), ackID, ackEnv)
	if err != nil {
		t.Fatal(err)
	}
	cmdPT, _ := cmd.Encode()
	if err := ack.Matches(cmdPT, 7); err != nil {
		t.Fatal(err)
	}
}

// TestAuthorityCannotDeriveChannelKey: the authority holds the halves, the exchange key, the
// metadata and the validation nonce, and can replay everything on the bus, yet without a
// binding private key every derivation it can make misses the L5 key.
func TestAuthorityCannotDeriveChannelKey(t *testing.T) {
	w := newWorld(t)
	is := w.issue(t)
	pack := w.open(t, is.Certificate, w.pack)
	bs, _ := suite.BindingSecret(w.pack, w.module.Public())
	real := pack.PairingKeys(bs, is.HalfB)
	cmdID := canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x01, canid.AddrPack)
	cmd := &Command{V: Version1, Code: CmdDiagnosticMode, Seq: 1, IssuedAt: t0.Unix(), Target: 1, DiagEnable: bptr(true), DiagDuration: u16(60)}
	env, err := SealMessage(suite.NewLevelChannel(real.Send(true)), cmdID, 1, cmd)
	if err != nil {
		t.Fatal(err)
	}
	// Every binding-secret guess built from what the authority stores.
	guesses := map[string][]byte{
		"zero":         make([]byte, 32),
		"exchange key": is.ExchangeKey,
		"nonce":        append(append([]byte{}, is.ValidationNonce...), is.ValidationNonce...),
		"metadata":     is.MetadataHash,
		"halves":       append(append([]byte{}, is.HalfA[:16]...), is.HalfB[:16]...),
	}
	// Its own ECDH with either entity gives a secret bound to its own key, not the pair's.
	if s, err := suite.BindingSecret(w.authority, w.pack.Public()); err == nil {
		guesses["authority×pack"] = s
	}
	if s, err := suite.BindingSecret(w.authority, w.module.Public()); err == nil {
		guesses["authority×module"] = s
	}
	for name, g := range guesses {
		k := suite.DerivePairingKeys(g, is.HalfA, is.HalfB, is.MetadataHash, w.md.PairingID, w.md.Context.String())
		if k.Key == real.Key {
			t.Fatalf("%s: derived the pairing key", name)
		}
		_, _, _, err := OpenCommand(suite.NewLevelChannel(k.Receive(false)), cmdID, env)
		if !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s: opened L5 traffic (err %v)", name, err)
		}
	}
	// With the real binding secret the same inputs do open it (the test is not vacuous).
	if _, _, _, err := OpenCommand(suite.NewLevelChannel(real.Receive(false)), cmdID, env); err != nil {
		t.Fatal(err)
	}
}

// TestSectionSealedForOneEntity: a section opens only with its own entity's key.
func TestSectionSealedForOneEntity(t *testing.T) {
	w := newWorld(t)
	is := w.issue(t)
	c, err := DecodePairingCertificate(is.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		sealed []byte
		key    *suite.PrivateKey
	}{
		{"module opens A", c.SectionA, w.module},
		{"pack opens B", c.SectionB, w.pack},
		{"stranger opens A", c.SectionA, w.other},
		{"authority opens B", c.SectionB, w.authority},
	} {
		if _, err := suite.Open(tc.key, tc.sealed, []byte(domainSection)); err == nil {
			t.Errorf("%s: opened", tc.name)
		}
	}
	// A stranger is not an entity of the certificate at all.
	_, err = OpenPairingCertificate(is.Certificate, PairingExpect{Authority: w.authority.Public(), Self: w.other}, t0)
	if !errors.Is(err, ErrEntity) {
		t.Fatalf("stranger: %v", err)
	}
}

func TestCheckCarrier(t *testing.T) {
	s := samples(t)
	cases := []struct {
		name string
		m    any
		id   canid.ID
		ok   bool
	}{
		{"command at pairing level", s["Command"], canid.New(canid.TypeCommand, true, canid.LevelPairing, 1, canid.AddrPack), true},
		{"command in the clear", s["Command"], canid.New(canid.TypeCommand, false, 0, 1, canid.AddrPack), false},
		{"command at exchange level", s["Command"], canid.New(canid.TypeCommand, true, canid.LevelExchange, 1, canid.AddrPack), false},
		{"ack on emergency-ack", s["Ack"], canid.New(canid.TypeEmergencyAck, true, canid.LevelPairing, canid.AddrPack, 1), true},
		{"telemetry clear", s["Telemetry"], canid.New(canid.TypeTelemetry, false, 0, canid.AddrPack, 1), true},
		{"telemetry exchange", s["Telemetry"], canid.New(canid.TypeTelemetry, true, canid.LevelExchange, canid.AddrPack, 1), true},
		{"witness clear", s["Witness"], canid.New(canid.TypeWitness, false, 0, canid.AddrApp, canid.AddrPack), false},
		{"witness binding", s["Witness"], canid.New(canid.TypeWitness, true, canid.LevelBinding, canid.AddrApp, canid.AddrPack), true},
		{"announce", s["Announce"], canid.New(canid.TypeAnnounce, false, 0, canid.AddrPack, 1), true},
		{"announce on telemetry", s["Announce"], canid.New(canid.TypeTelemetry, false, 0, canid.AddrPack, 1), false},
		{"section alone", s["EntitySection"], canid.New(canid.TypePairingCert, true, canid.LevelBinding, 1, canid.AddrPack), false},
	}
	for _, c := range cases {
		if err := CheckCarrier(c.m, c.id); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
