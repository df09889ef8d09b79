package an3155

import (
	"bytes"
	"testing"
)

func feed(t *Target, b ...byte) []byte {
	var out []byte
	for _, v := range b {
		out = append(out, t.Feed(v)...)
	}
	return out
}

func TestTargetGoldenExchanges(t *testing.T) {
	cases := []struct {
		name string
		cfg  TargetConfig
		in   []byte
		want []byte
	}{
		{"noise then sync", TargetConfig{}, []byte{0x00, 0x55, Sync}, []byte{ACK}},
		{"get", TargetConfig{}, []byte{Sync, 0x00, 0xFF},
			[]byte{ACK, ACK, 0x07, 0x31, 0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x44, ACK}},
		{"get with old erase", TargetConfig{OldErase: true}, []byte{Sync, 0x00, 0xFF},
			[]byte{ACK, ACK, 0x07, 0x31, 0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x43, ACK}},
		{"get version", TargetConfig{}, []byte{Sync, 0x01, 0xFE}, []byte{ACK, ACK, 0x31, 0x00, 0x00, ACK}},
		{"get id", TargetConfig{}, []byte{Sync, 0x02, 0xFD}, []byte{ACK, ACK, 0x01, 0x04, 0x95, ACK}},
		{"bad complement", TargetConfig{}, []byte{Sync, 0x02, 0xFC}, []byte{ACK, NACK}},
		{"unknown command", TargetConfig{}, []byte{Sync, 0x63, 0x9C}, []byte{ACK, NACK}},
		{"read 4 erased bytes", TargetConfig{}, []byte{Sync, 0x11, 0xEE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 0xFC},
			[]byte{ACK, ACK, ACK, ACK, 0xFF, 0xFF, 0xFF, 0xFF}},
		{"read bad address checksum", TargetConfig{}, []byte{Sync, 0x11, 0xEE, 0x08, 0x00, 0x00, 0x00, 0x09},
			[]byte{ACK, ACK, NACK}},
		{"read outside flash", TargetConfig{}, []byte{Sync, 0x11, 0xEE, 0x20, 0x00, 0x00, 0x00, 0x20},
			[]byte{ACK, ACK, NACK}},
		{"read bad count complement", TargetConfig{}, []byte{Sync, 0x11, 0xEE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 0xFD},
			[]byte{ACK, ACK, ACK, NACK}},
		{"write 4 bytes", TargetConfig{}, []byte{Sync, 0x31, 0xCE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 0xDE, 0xAD, 0xBE, 0xEF, 0x03 ^ 0xDE ^ 0xAD ^ 0xBE ^ 0xEF},
			[]byte{ACK, ACK, ACK, ACK}},
		{"write corrupted checksum", TargetConfig{}, []byte{Sync, 0x31, 0xCE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 0xDE, 0xAD, 0xBE, 0xEF, 0x00},
			[]byte{ACK, ACK, ACK, NACK}},
		{"write unaligned length", TargetConfig{}, []byte{Sync, 0x31, 0xCE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x02, 0x01, 0x02, 0x03, 0x02 ^ 0x01 ^ 0x02 ^ 0x03},
			[]byte{ACK, ACK, ACK, NACK}},
		{"write unaligned address", TargetConfig{}, []byte{Sync, 0x31, 0xCE, 0x08, 0x00, 0x00, 0x02, 0x0A},
			[]byte{ACK, ACK, NACK}},
		{"protected read", TargetConfig{Protected: true}, []byte{Sync, 0x11, 0xEE}, []byte{ACK, NACK}},
		{"extended mass erase", TargetConfig{}, []byte{Sync, 0x44, 0xBB, 0xFF, 0xFF, 0x00}, []byte{ACK, ACK, ACK}},
		{"extended erase pages 0 and 1", TargetConfig{}, []byte{Sync, 0x44, 0xBB, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00},
			[]byte{ACK, ACK, ACK}},
		{"extended erase bad checksum", TargetConfig{}, []byte{Sync, 0x44, 0xBB, 0x00, 0x00, 0x00, 0x00, 0x01},
			[]byte{ACK, ACK, NACK}},
		{"extended erase page out of range", TargetConfig{}, []byte{Sync, 0x44, 0xBB, 0x00, 0x00, 0x00, 0x40, 0x40},
			[]byte{ACK, ACK, NACK}},
		{"erase global", TargetConfig{OldErase: true}, []byte{Sync, 0x43, 0xBC, 0xFF, 0x00}, []byte{ACK, ACK, ACK}},
		{"erase pages", TargetConfig{OldErase: true}, []byte{Sync, 0x43, 0xBC, 0x01, 0x02, 0x03, 0x01 ^ 0x02 ^ 0x03}, []byte{ACK, ACK, ACK}},
		{"extended erase refused by old part", TargetConfig{OldErase: true}, []byte{Sync, 0x44, 0xBB}, []byte{ACK, NACK}},
		{"go", TargetConfig{}, []byte{Sync, 0x21, 0xDE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0xFF}, []byte{ACK, ACK, ACK}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := NewTarget(c.cfg)
			if got := feed(tg, c.in...); !bytes.Equal(got, c.want) {
				t.Fatalf("got % X\nwant % X", got, c.want)
			}
		})
	}
}

func TestTargetWriteNeedsErase(t *testing.T) {
	tg := NewTarget(TargetConfig{})
	w := []byte{0x31, 0xCE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 1, 2, 3, 4, 0x03 ^ 1 ^ 2 ^ 3 ^ 4}
	feed(tg, Sync)
	if got := feed(tg, w...); !bytes.Equal(got, []byte{ACK, ACK, ACK}) {
		t.Fatalf("first write % X", got)
	}
	if got := feed(tg, w...); !bytes.Equal(got, []byte{ACK, ACK, NACK}) {
		t.Fatalf("write over programmed cells % X", got)
	}
	feed(tg, 0x44, 0xBB, 0x00, 0x00, 0x00, 0x00, 0x00)
	if got := feed(tg, w...); !bytes.Equal(got, []byte{ACK, ACK, ACK}) {
		t.Fatalf("write after erase % X", got)
	}
	if m := tg.Memory(FlashBase, 4); !bytes.Equal(m, []byte{1, 2, 3, 4}) {
		t.Fatalf("memory % X", m)
	}
}

func TestChecksums(t *testing.T) {
	if got := addrBytes(0x08000100); !bytes.Equal(got, []byte{0x08, 0x00, 0x01, 0x00, 0x09}) {
		t.Fatalf("% X", got)
	}
	if xor([]byte{0xFF, 0xFF}) != 0x00 {
		t.Fatal("mass erase checksum")
	}
}
