package session

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/freshness"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// link is the state of one peer. Owned by the loop.
type link struct {
	peer Peer

	key     *suite.PrivateKey   // own binding key for this partner
	partner *message.AccessData // partner named by the generate-keys request, until bound
	lostKID *uint16             // KID of a key this node lost (key-loss announce)

	bound      bool
	bindingID  []byte
	partnerKey *suite.PublicKey
	bindCh     *suite.Channel
	bindCtr    *freshness.Counter
	bindWin    *freshness.Window

	pend       *pending           // a pairing being established
	pair       *pairing           // the established pairing
	old        *pairing           // the previous pairing during a renewal, until the new KID verifies
	rev        [][]byte           // pairing IDs refused from now on (revoked, timed out, superseded)
	lastTel    *message.Telemetry // the previous telemetry record, for the step triggers
	lastTelAt  time.Time
	l3         *l3state            // an L3 handshake this node started
	hs         *l4state            // an L4 handshake in progress
	secretCopy []byte              // S_B as stored
	buffered   *bufferedHalf       // a key half that arrived before its certificate opened
	comp       *message.Completion // a peer's completion that arrived before this side finished
}

type pairing struct {
	id      []byte
	context message.Context
	index   int // 0 = A, 1 = B
	keys    suite.PairingKeys
	policy  message.Policy
	expires int64
	peerKID uint16

	send, recv, tel *suite.Channel
	sendCtr, telCtr *freshness.Counter
	recvWin, telWin *freshness.Window
	synced          bool
	signer          *freshness.Signer
	verifier        *freshness.Verifier
	relayTx         map[uint8]*freshness.Signer   // single frames relayed for nodes behind this one, by source
	relayRx         map[uint8]*freshness.Verifier // single frames relayed by the peer, by source
	nonce, mdHash   []byte                        // validation nonce and metadata hash, until the completion is made
	seen            []uint32                      // command sequences executed recently under this pairing
	completed       bool                          // completion proof made (or received) for the authority

	// What a handshake retry sends again (docs/protocol.md 8, retries of lost handshake
	// messages): this node's sealed key half, the exchange-phase KID that recognises the
	// peer's key half sent again, and the completion this node sent (or, as the collector,
	// collected). None of it is secret: each was on the bus or goes to the authority.
	half isotp.Message
	xKID uint16
	comp []byte
}

type pending struct {
	opened   *message.Opened
	deadline time.Time
	half     isotp.Message // this node's sealed key half, sent again when the certificate comes again
}

type l4state struct {
	nonce []byte
	at    time.Time
}

// Record names in the store. Each link's records carry the peer address.
func recName(kind string, peer uint8) string { return fmt.Sprintf("session/%s/%02x", kind, peer) }

func ctrName(kind string, peer uint8, id []byte) string {
	return fmt.Sprintf("session/ctr/%02x/%s/%s", peer, kind, hex.EncodeToString(id))
}

const recLinks = "session/links"

// rxName names the record of the highest binding-level counter accepted from a peer.
func rxName(peer uint8, bindingID []byte) string {
	return fmt.Sprintf("session/rx/%02x/%s", peer, hex.EncodeToString(bindingID))
}

type bindingRecord struct {
	PeerID     string              `json:"peer_id"`
	PeerRole   message.Role        `json:"peer_role"`
	Partner    *message.AccessData `json:"partner,omitempty"` // pending key for this partner
	KID        uint16              `json:"kid"`               // own key's KID (kept to announce its loss)
	BindingID  []byte              `json:"binding_id,omitempty"`
	PartnerKey []byte              `json:"partner_key,omitempty"`
	Secret     []byte              `json:"secret,omitempty"` // S_B, computed once
	Revoked    [][]byte            `json:"revoked,omitempty"`
}

type pairingRecord struct {
	PairingID []byte          `json:"pairing_id"`
	Context   message.Context `json:"context"`
	Index     int             `json:"index"`
	Key       []byte          `json:"key"` // K_P
	Policy    message.Policy  `json:"policy"`
	Expires   int64           `json:"expires"`
	PeerKID   uint16          `json:"peer_kid"`
	Completed bool            `json:"completed"`
}

// ensureLink returns the link to addr, making (and listing) it if needed.
func (e *Engine) ensureLink(p Peer) (*link, error) {
	if l := e.links[p.Addr]; l != nil {
		if l.peer.EntityID == "" && p.EntityID != "" {
			l.peer.EntityID = p.EntityID
		}
		if l.peer.Role == 0 {
			l.peer.Role = p.Role
		}
		return l, nil
	}
	l := &link{peer: p}
	e.links[p.Addr] = l
	return l, e.saveIndex()
}

func (e *Engine) saveIndex() error {
	addrs := make([]byte, 0, len(e.links))
	for a := range e.links {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return e.cfg.Store.Put(recLinks, addrs)
}

// loadLinks restores every link from the store: the configured peers and those listed in the
// index.
func (e *Engine) loadLinks() error {
	for _, p := range e.cfg.Peers {
		e.links[p.Addr] = &link{peer: p}
	}
	idx, _, err := getRecord(e.cfg.Store, recLinks)
	if err != nil {
		return err
	}
	for _, a := range idx {
		if e.links[a] == nil {
			e.links[a] = &link{peer: Peer{Addr: a}}
		}
	}
	for _, l := range e.links {
		if err := e.loadLink(l); err != nil {
			return fmt.Errorf("session: link %#02x: %w", l.peer.Addr, err)
		}
	}
	return nil
}

func (e *Engine) loadLink(l *link) error {
	st := e.cfg.Store
	raw, ok, err := getRecord(st, recName("binding", l.peer.Addr))
	if err != nil || !ok {
		return err
	}
	var br bindingRecord
	if err := json.Unmarshal(raw, &br); err != nil {
		return fmt.Errorf("binding record: %w", err)
	}
	if l.peer.EntityID == "" {
		l.peer.EntityID = br.PeerID
	}
	if l.peer.Role == 0 {
		l.peer.Role = br.PeerRole
	}
	l.rev = br.Revoked
	l.partner = br.Partner
	scalar, ok, err := getRecord(st, recName("key", l.peer.Addr))
	if err != nil {
		return err
	}
	if ok {
		l.key, err = suite.NewPrivateKey(scalar)
		suite.Erase(scalar)
	}
	if !ok || err != nil || l.key.Public().KID() != br.KID {
		// The key is gone or damaged: key loss. Keep the KID to announce it.
		kid := br.KID
		l.key, l.lostKID = nil, &kid
		return nil
	}
	if len(br.Secret) != suite.SecretSize || len(br.BindingID) != message.IDSize {
		return nil // key made, binding record not yet received
	}
	pk, err := suite.ParsePublicKey(br.PartnerKey)
	if err != nil {
		return fmt.Errorf("partner key: %w", err)
	}
	if err := e.setBinding(l, br.BindingID, pk, br.Secret); err != nil {
		return err
	}
	raw, ok, err = getRecord(st, recName("pairing", l.peer.Addr))
	if err != nil || !ok {
		return err
	}
	var pr pairingRecord
	if err := json.Unmarshal(raw, &pr); err != nil {
		return fmt.Errorf("pairing record: %w", err)
	}
	p, err := e.newPairing(l, &pr, !e.cfg.NoSyncOnBoot)
	if err != nil {
		return err
	}
	l.pair = p
	return nil
}

func (e *Engine) saveBinding(l *link) error {
	br := bindingRecord{PeerID: l.peer.EntityID, PeerRole: l.peer.Role, Partner: l.partner, Revoked: l.rev}
	switch {
	case l.key != nil:
		br.KID = l.key.Public().KID()
	case l.lostKID != nil:
		br.KID = *l.lostKID
	}
	if l.bound {
		br.BindingID, br.PartnerKey = l.bindingID, l.partnerKey.Bytes()
		br.Secret = l.secretCopy
	}
	b, err := json.Marshal(br)
	if err != nil {
		return err
	}
	return e.cfg.Store.Put(recName("binding", l.peer.Addr), b)
}

func (e *Engine) savePairing(l *link, p *pairing) error {
	pr := pairingRecord{PairingID: p.id, Context: p.context, Index: p.index, Key: p.keys.Key[:],
		Policy: p.policy, Expires: p.expires, PeerKID: p.peerKID, Completed: p.completed}
	b, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	return e.cfg.Store.Put(recName("pairing", l.peer.Addr), b)
}

// setBinding installs the binding-level channel from the binding secret.
func (e *Engine) setBinding(l *link, bindingID []byte, partner *suite.PublicKey, secret []byte) error {
	lk := suite.BindingLevelKeys(secret, bindingID)
	ctr, err := freshness.NewCounter(CounterStore(e.cfg.Store, ctrName("bind", l.peer.Addr, bindingID)), e.cfg.CounterBlock)
	if err != nil {
		return err
	}
	win, _ := freshness.NewWindow(e.cfg.Window)
	// Binding-level traffic is rare (certificates, completions, escalations, L6/L7), so its
	// highest accepted counter is persisted and a reset does not reopen the window to replays:
	// everything up to it counts as seen.
	if b, ok, _ := getRecord(e.cfg.Store, rxName(l.peer.Addr, bindingID)); ok && len(b) == 8 {
		h := binary.BigEndian.Uint64(b)
		for c := h - min(h, uint64(win.Size()-1)); c <= h; c++ {
			_ = win.Accept(c)
		}
	}
	l.bound, l.bindingID, l.partnerKey = true, bindingID, partner
	l.secretCopy = append([]byte(nil), secret...)
	l.bindCh, l.bindCtr, l.bindWin = suite.NewLevelChannel(lk), ctr, win
	lk.Erase()
	return nil
}

// newPairing builds a pairing's channels, counters and windows from its key.
func (e *Engine) newPairing(l *link, pr *pairingRecord, unsynced bool) (*pairing, error) {
	if len(pr.Key) != suite.PairingKeySize {
		return nil, fmt.Errorf("pairing key of %d bytes", len(pr.Key))
	}
	p := &pairing{id: pr.PairingID, context: pr.Context, index: pr.Index, policy: pr.Policy,
		expires: pr.Expires, peerKID: pr.PeerKID, completed: pr.Completed, synced: !unsynced}
	p.keys = rebuildPairingKeys(pr.Key)
	isA := p.index == 0
	p.send = suite.NewLevelChannel(p.keys.Send(isA))
	p.recv = suite.NewLevelChannel(p.keys.Receive(isA))
	p.tel = suite.NewLevelChannel(p.keys.TelemetryKeys())
	var err error
	if p.sendCtr, err = freshness.NewCounter(CounterStore(e.cfg.Store, ctrName("pair", l.peer.Addr, p.id)), e.cfg.CounterBlock); err != nil {
		return nil, err
	}
	if p.telCtr, err = freshness.NewCounter(CounterStore(e.cfg.Store, ctrName("tel", l.peer.Addr, p.id)), e.cfg.CounterBlock); err != nil {
		return nil, err
	}
	shortCtr, err := freshness.NewCounter(CounterStore(e.cfg.Store, ctrName("short", l.peer.Addr, p.id)), e.cfg.CounterBlock)
	if err != nil {
		return nil, err
	}
	mk := suite.HKDF(p.keys.Key[:], nil, LabelTelemetryMAC, nil, 32)
	defer suite.Erase(mk)
	if p.signer, err = freshness.NewSigner(mk, shortCtr, e.short); err != nil {
		return nil, err
	}
	if p.verifier, err = freshness.NewVerifier(mk, e.short, 0, freshness.DefaultPolicy()); err != nil {
		return nil, err
	}
	p.recvWin, _ = freshness.NewWindow(e.cfg.Window)
	p.telWin, _ = freshness.NewWindow(e.cfg.Window)
	return p, nil
}

// LabelTelemetryMAC labels the derivation of the single-frame telemetry MAC key K_TM from the
// pairing key (docs/protocol.md 6.5).
const LabelTelemetryMAC = "telemetry mac"

// rebuildPairingKeys recomputes K6 and K7 from a stored K_P, as suite.DerivePairingKeys does.
func rebuildPairingKeys(kp []byte) suite.PairingKeys {
	var p suite.PairingKeys
	copy(p.Key[:], kp)
	copy(p.AtoB[:], kp[:32])
	copy(p.BtoA[:], kp[32:])
	iv := suite.HKDF(p.Key[:], nil, suite.LabelPairingIV, nil, 2*suite.NonceSize+2)
	copy(p.IVAtoB[:], iv[:12])
	copy(p.IVBtoA[:], iv[12:24])
	p.KID = binary.BigEndian.Uint16(iv[24:26])
	suite.Erase(iv)
	t := suite.HKDF(p.Key[:], nil, suite.LabelTelemetry, nil, 46)
	copy(p.Telemetry[:], t[:32])
	copy(p.IVTelemetry[:], t[32:44])
	p.TelemetryKID = binary.BigEndian.Uint16(t[44:46])
	suite.Erase(t)
	return p
}

func (p *pairing) erase() {
	p.keys.Erase()
}

func (l *link) revoked(id []byte) bool {
	for _, r := range l.rev {
		if string(r) == string(id) {
			return true
		}
	}
	return false
}

func (l *link) addRevoked(id []byte) {
	if id == nil || l.revoked(id) {
		return
	}
	l.rev = append(l.rev, append([]byte(nil), id...))
	if len(l.rev) > 32 {
		l.rev = l.rev[len(l.rev)-32:]
	}
}

type bufferedHalf struct {
	id  canid.ID
	env []byte
}
