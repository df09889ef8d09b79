package adapter

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/bus/bustest"
	"github.com/modbatt/hilrun/bus/slcan"
)

// FuzzHost: whatever a host writes, the adapter never panics and answers every command it could
// cut from the stream with exactly one reply (CR line or BEL).
func FuzzHost(f *testing.F) {
	for _, s := range []string{
		"V\rN\rS6\rO\rt1232AABB\rF\rC\r", "L\rT1ABCDEF00\r", "Y2\rO\rB1FFFFFFF9000102030405060708090A0B\r",
		"t12\r\a\n\r", "S6\rs031C\rZ1\rM00000000\rmFFFFFFFF\rO\rr7FF8\rC\r", "X\r" + strings.Repeat("t", 300) + "\r",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, fd bool) {
		h := bustest.NewHub(500_000)
		peer := h.Join()
		defer peer.Close()
		ad := New(h.Join(), Config{FD: fd, Logger: slog.New(slog.DiscardHandler)})
		var out strings.Builder
		rw := struct {
			io.Reader
			io.Writer
		}{strings.NewReader(string(in)), &out}
		if err := ad.Serve(context.Background(), rw); err != nil {
			t.Fatal(err)
		}
		var cmds, replies slcan.Splitter
		cmds.Feed(in)
		want := 0
		for {
			if _, ok, _ := cmds.Next(); !ok {
				break
			}
			want++
		}
		replies.Feed([]byte(out.String()))
		got := 0
		for {
			tok, ok, err := replies.Next()
			if !ok {
				break
			}
			if err != nil {
				t.Fatalf("adapter wrote an overlong line: %q", out.String())
			}
			if !tok.Bell {
				if _, err := slcan.ParseReply(tok.Line); err != nil {
					t.Fatalf("adapter wrote %q: %v", tok.Line, err)
				}
			}
			got++
		}
		if got != want {
			t.Fatalf("%d commands, %d replies: in %q out %q", want, got, in, out.String())
		}
	})
}
