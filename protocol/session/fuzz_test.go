package session

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
)

// fuzzState is a module's NVM after binding and pairing with a pack, made once.
var fuzzState struct {
	once  sync.Once
	recs  map[string][]byte
	ident Identity
	w     *world
}

func pairedModuleStore(t *testing.T) (map[string][]byte, Identity, *world) {
	fuzzState.once.Do(func() {
		w := newWorld(t, nil)
		w.ctx = context.Background()
		pack, module := packAndModule(t, w, nil)
		w.bind(pack, module)
		w.pair(pack, module, nil)
		module.halt()
		pack.halt()
		fuzzState.recs = map[string][]byte{}
		for _, k := range module.store.Names("") {
			v, _ := module.store.Get(k)
			fuzzState.recs[k] = v
		}
		fuzzState.ident, fuzzState.w = module.cfg.Identity, w
	})
	return fuzzState.recs, fuzzState.ident, fuzzState.w
}

// frames reads a fuzz input as frames: identifier (4 bytes, big-endian), length (1 byte, low 4
// bits, at most 8), data.
func fuzzFrames(b []byte) []bus.Frame {
	var out []bus.Frame
	for len(b) >= 5 && len(out) < 64 {
		f := bus.Frame{ID: binary.BigEndian.Uint32(b) & 0x1FFFFFFF, Extended: b[0]&0x80 == 0, Len: min(b[4]&0x0F, 8)}
		b = b[5:]
		n := min(int(f.Len), len(b))
		f.Len = uint8(n)
		copy(f.Data[:], b[:n])
		b = b[n:]
		out = append(out, f)
	}
	return out
}

func appendFrame(dst []byte, id canid.ID, data ...byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, id.Encode())
	dst = append(dst, byte(len(data)))
	return append(dst, data...)
}

// FuzzEngineFrames feeds arbitrary frames to a paired module's engine: it must never panic,
// and whatever it accepts it accepts only through the checks.
func FuzzEngineFrames(f *testing.F) {
	cmd := canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x01, canid.AddrPack)
	f.Add(appendFrame(nil, cmd, 0x03, 0x10, 0x00, 0x00))
	f.Add(appendFrame(appendFrame(nil, cmd, 0x10, 0x2F, 0x10, 0x12, 0x34, 0x01, 0, 0), cmd, 0x21, 1, 2, 3, 4, 5, 6, 7))
	f.Add(appendFrame(nil, canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, 0x01, canid.AddrPack), 1, 2, 3, 4, 5, 6, 7, 8))
	req, _ := (&message.GenerateKeysRequest{V: 1, PartnerAccessData: access("PC-9", "0x41")}).Encode()
	bx := canid.New(canid.TypeBindingXfer, false, 0, 0x01, canid.AddrPack)
	seed := appendFrame(nil, bx, append([]byte{0x10, byte(len(req))}, req[:6]...)...)
	for i, sn := 6, 1; i < len(req); i, sn = i+7, sn+1 {
		seed = appendFrame(seed, bx, append([]byte{0x20 | byte(sn&15)}, req[i:min(i+7, len(req))]...)...)
	}
	f.Add(seed)
	f.Add(appendFrame(nil, canid.New(canid.TypeAnnounce, false, 0, 0x01, canid.AddrPack), 0x02, 0xA0, 0x00))
	f.Add(appendFrame(nil, canid.New(canid.TypeKeyHalf, true, canid.LevelExchange, 0x01, canid.AddrPack), 0x03, 0x10, 0, 0))
	f.Add(appendFrame(nil, canid.New(canid.TypePairedHandshake, true, canid.LevelPairing, 0x01, canid.AddrPack), 0x05, 0x10, 0, 0, 0, 0))
	recs, ident, w := pairedModuleStore(&testing.T{})
	ep := discard{}
	f.Fuzz(func(t *testing.T, in []byte) {
		st := NewMemStore()
		for k, v := range recs {
			st.Put(k, v)
		}
		e, err := New(Config{Identity: ident, Endpoint: ep, Clock: w.clk, Rand: newReader("fuzz"), Store: st,
			Authority: w.auth.Public(), NoSyncOnBoot: true, Upstream: canid.AddrPack})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e.runCtx = ctx
		for _, fr := range fuzzFrames(in) {
			e.handleFrame(bus.Received{Frame: fr, Time: w.clk.Now()})
			for len(e.inbox) > 0 {
				e.dispatch(<-e.inbox)
			}
		}
		if s := e.Stats(); s.Commands > 0 && s.Rejected[CauseAuth] == 0 && len(in) < 40 {
			t.Fatalf("a command was accepted from %d bytes of fuzz input", len(in))
		}
	})
}

// discard is an endpoint that swallows what the engine sends and never receives.
type discard struct{}

func (discard) Send(context.Context, bus.Frame) error { return nil }
func (discard) Receive(ctx context.Context) (bus.Received, error) {
	<-ctx.Done()
	return bus.Received{}, ctx.Err()
}
func (discard) Stats() bus.Stats { return bus.Stats{} }
func (discard) Close() error     { return nil }
