package authority

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// detReader is SHA-256 in counter mode over a seed: the same bytes on every run.
type detReader struct {
	mu   sync.Mutex
	seed []byte
	ctr  uint64
	buf  []byte
}

func newReader(seed string) *detReader { return &detReader{seed: []byte(seed)} }

func (r *detReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write(r.seed)
			h.Write(binary.BigEndian.AppendUint64(nil, r.ctr))
			r.ctr++
			r.buf = h.Sum(nil)
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// device is an emulated entity: it makes its own binding keys, which the authority never sees.
type device struct {
	mu     sync.Mutex
	role   message.Role
	access message.AccessData
	rnd    io.Reader
	keys   map[string]*suite.PrivateKey // by binding ID text
}

func (d *device) id() string { return d.access.DeviceID }

// fleet holds the devices and acts as the authority's key generators (the app's HTTP API and
// its CAN relay, in process).
type fleet struct {
	mu   sync.Mutex
	devs map[string]*device
}

func (f *fleet) add(role message.Role, id, typ, endpoint string) *device {
	d := &device{role: role, access: message.AccessData{Type: typ, ChainID: "web4-test", DeviceID: id, Endpoint: endpoint},
		rnd: newReader("device " + id), keys: map[string]*suite.PrivateKey{}}
	f.mu.Lock()
	f.devs[id] = d
	f.mu.Unlock()
	return d
}

func (f *fleet) GenerateKeys(ctx context.Context, req KeyRequest) (*suite.PublicKey, error) {
	f.mu.Lock()
	d := f.devs[req.Subject.DeviceID]
	f.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("no device %s on the bus", req.Subject.DeviceID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k, err := suite.GenerateKey(d.rnd)
	if err != nil {
		return nil, err
	}
	d.keys[message.FormatUUID(req.BindingID)] = k
	return k.Public(), nil
}

func (f *fleet) generators() map[message.Role]KeyGenerator {
	return map[message.Role]KeyGenerator{message.RoleApp: f, message.RolePack: f, message.RoleModule: f}
}

// world is an authority on loopback with a client and a fleet.
type world struct {
	t     testing.TB
	clk   *clock.Sim
	dir   string
	a     *Authority
	srv   *httptest.Server
	c     *Client
	fleet *fleet
	auth  *suite.PublicKey
	app   *device
	pack  *device
	mods  []*device
	ctx   context.Context
	sync  bool // fsync every commit (benchmarks); tests run without
	proof bool // Options.RequireProof
}

func newWorld(t testing.TB, mods int) *world {
	t.Helper()
	w := &world{t: t, clk: clock.NewSim(t0), dir: t.TempDir(), fleet: &fleet{devs: map[string]*device{}}, ctx: context.Background()}
	w.app = w.fleet.add(message.RoleApp, "APP-HOST-67890", "http", "http://localhost:8080/api")
	w.pack = w.fleet.add(message.RolePack, "PC-12345", "can", "0x40")
	for i := range mods {
		w.mods = append(w.mods, w.fleet.add(message.RoleModule, fmt.Sprintf("BM-%05d", i+1), "can", fmt.Sprintf("0x%02x", i+1)))
	}
	w.open()
	return w
}

func (w *world) open() {
	w.t.Helper()
	a, err := Open(Options{Dir: w.dir, Clock: w.clk, Rand: newReader("authority " + w.dir + time.Duration(w.clk.Now().UnixNano()).String()),
		KeyGenerators: w.fleet.generators(), NoSync: !w.sync, RequireProof: w.proof})
	if err != nil {
		w.t.Fatal(err)
	}
	w.a = a
	w.srv = httptest.NewServer(a.Handler())
	w.c = &Client{BaseURL: w.srv.URL, HTTP: w.srv.Client()}
	w.auth = a.PublicKey()
}

func (w *world) close() {
	w.srv.Close()
	if err := w.a.Close(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) bind(a, b *device) string {
	w.t.Helper()
	id, err := w.c.Bind(w.ctx, a.access, a.role.String(), b.access, b.role.String())
	if err != nil {
		w.t.Fatalf("bind %s–%s: %v", a.id(), b.id(), err)
	}
	return id
}

// session is one device's side of a pairing.
type session struct {
	dev    *device
	opened *message.Opened
	secret []byte // binding secret
	keys   suite.PairingKeys
	nonce  []byte
	half   []byte // own key half, kept for the zero-knowledge test
	xkey   []byte // exchange key, copied before it is erased
}

// pairUp runs the device side of a pairing: open sections, swap halves, open the handshake,
// derive the keys. It returns A's and B's sessions.
func (w *world) pairUp(bindingID string, cert []byte, a, b *device) (*session, *session) {
	w.t.Helper()
	now := w.clk.Now()
	ss := [2]*session{{dev: a}, {dev: b}}
	for i, s := range ss {
		k := s.dev.keys[bindingID]
		o, err := message.OpenPairingCertificate(cert, message.PairingExpect{Authority: w.auth, Self: k}, now)
		if err != nil {
			w.t.Fatalf("%s opens: %v", s.dev.id(), err)
		}
		if o.Index() != i {
			w.t.Fatalf("%s has index %d", s.dev.id(), o.Index())
		}
		peer, _, err := w.c.PartnerPublicKey(w.ctx, bindingID, s.dev.id(), w.auth, now)
		if err != nil {
			w.t.Fatalf("%s partner key: %v", s.dev.id(), err)
		}
		if s.secret, err = suite.BindingSecret(k, peer); err != nil {
			w.t.Fatal(err)
		}
		s.opened = o
	}
	// Swap halves under the exchange key.
	halves := [2][]byte{}
	for i, s := range ss {
		id := keyHalfID(s.opened.Metadata.Entities[i].Addr, s.opened.Metadata.Entities[1-i].Addr)
		env, err := s.opened.SealKeyHalf(id, 0)
		if err != nil {
			w.t.Fatal(err)
		}
		peer := ss[1-i]
		h, err := peer.opened.OpenKeyHalf(id, env)
		if err != nil {
			w.t.Fatalf("%s opens half: %v", peer.dev.id(), err)
		}
		halves[1-i] = h
	}
	for i, s := range ss {
		n, err := s.opened.OpenHandshake(halves[i])
		if err != nil {
			w.t.Fatal(err)
		}
		s.nonce = n
		s.keys = s.opened.PairingKeys(s.secret, halves[i])
		s.half = append([]byte(nil), s.opened.Section.KeyHalf...)
		s.xkey = append([]byte(nil), s.opened.Section.ExchangeKey...)
		s.opened.EraseExchange()
	}
	if ss[0].keys.Key != ss[1].keys.Key {
		w.t.Fatal("the two devices derived different pairing keys")
	}
	return ss[0], ss[1]
}

// completion builds the L6 completion: ES256 from apps and packs, HMAC from modules.
func (w *world) completion(a, b *session, at time.Time) []byte {
	w.t.Helper()
	c := a.opened.NewCompletion(a.nonce, at)
	for i, s := range []*session{a, b} {
		if s.dev.role == message.RoleModule {
			if err := c.MACProof(uint8(i), message.CompletionMACKey(&s.keys, c.PairingID), s.keys.KID); err != nil {
				w.t.Fatal(err)
			}
			continue
		}
		k := s.dev.keys[message.FormatUUID(mustBindingOf(w, a.opened))]
		if err := c.SignProof(uint8(i), k, nil); err != nil {
			w.t.Fatal(err)
		}
	}
	enc, err := c.Encode()
	if err != nil {
		w.t.Fatal(err)
	}
	return enc
}

func mustBindingOf(w *world, o *message.Opened) []byte {
	w.t.Helper()
	info, err := w.c.Pairing(w.ctx, message.FormatUUID(o.Metadata.PairingID))
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := message.ParseUUID(info.BindingID)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) issue(bindingID, ctx string, a, b *device) *IssuePairingResponse {
	w.t.Helper()
	r, err := w.c.IssuePairing(w.ctx, IssuePairingRequest{BindingID: bindingID, Context: ctx, Entities: [2]string{a.id(), b.id()}})
	if err != nil {
		w.t.Fatalf("issue %s %s–%s: %v", ctx, a.id(), b.id(), err)
	}
	return r
}

func certOf(t testing.TB, r *IssuePairingResponse) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(r.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keyHalfID(src, dst uint8) canid.ID {
	return canid.New(canid.TypeKeyHalf, true, canid.LevelExchange, dst, src)
}

// l5 seals a command from A to B under A's send keys and returns the identifier and envelope.
func l5(t testing.TB, a *session, dst uint8, src uint8) (canid.ID, []byte) {
	t.Helper()
	id := canid.New(canid.TypeCommand, true, canid.LevelPairing, dst, src)
	v := true
	cmd := &message.Command{V: message.Version1, Code: message.CmdDiagnosticMode, Seq: 1, IssuedAt: t0.Unix(), Target: dst,
		DiagEnable: &v, DiagDuration: u16(60)}
	env, err := message.SealMessage(suite.NewLevelChannel(a.keys.Send(true)), id, 1, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return id, env
}

func u16(v uint16) *uint16 { return &v }
