package message

import (
	"testing"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

func BenchmarkEncode(b *testing.B) {
	s := samples(b)
	for _, name := range []string{"Command", "Ack", "Telemetry", "Escalation", "Announce", "PairingMetadata", "Completion"} {
		m := s[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	s := samples(b)
	for _, name := range []string{"Command", "Ack", "Telemetry", "Escalation", "Announce", "PairingMetadata", "Completion"} {
		enc, err := encode(s[name])
		if err != nil {
			b.Fatal(err)
		}
		dec := decoders[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := dec(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPairingCertificate(b *testing.B) {
	w := newWorld(b)
	is := w.issue(b)
	b.Run("issue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := IssuePairingCertificate(w.authority, w.md, w.pack.Public(), w.module.Public(), newReader("bench")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		want := PairingExpect{Authority: w.authority.Public(), Self: w.module}
		for b.Loop() {
			if _, err := OpenPairingCertificate(is.Certificate, want, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	o := w.open(b, is.Certificate, w.module)
	b.Run("open-handshake", func(b *testing.B) {
		for b.Loop() {
			if _, err := o.OpenHandshake(is.HalfA); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkL5(b *testing.B) {
	var key [32]byte
	ch := suite.NewChannel(key, [12]byte{}, 1)
	id := canid.New(canid.TypeCommand, true, canid.LevelPairing, 1, canid.AddrPack)
	cmd := samples(b)["Command"]
	env, err := SealMessage(ch, id, 1, cmd)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seal-command", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SealMessage(ch, id, 1, cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-command", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := OpenCommand(ch, id, env); err != nil {
				b.Fatal(err)
			}
		}
	})
}
