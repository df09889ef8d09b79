package session

import (
	"context"

	"github.com/modbatt/hilrun/protocol/message"
)

// LinkInfo is a snapshot of one link.
type LinkInfo struct {
	Peer      Peer
	OwnKID    uint16 // 0 without a key
	LostKID   *uint16
	Bound     bool
	BindingID []byte
	PeerKID   uint16
	Paired    bool
	PairingID []byte
	Context   message.Context
	PairKID   uint16
	Synced    bool // the pairing's replay window is synchronised
	Pending   bool // a pairing handshake is in progress
	Completed bool // this node made or collected its completion proof
}

// Links returns a snapshot of every link.
func (e *Engine) Links(ctx context.Context) ([]LinkInfo, error) {
	var out []LinkInfo
	err := e.do(ctx, func() error {
		for _, l := range e.links {
			out = append(out, l.info())
		}
		return nil
	})
	return out, err
}

// Link returns a snapshot of the link to peer (false when there is none).
func (e *Engine) Link(ctx context.Context, peer uint8) (LinkInfo, bool, error) {
	var (
		info LinkInfo
		ok   bool
	)
	err := e.do(ctx, func() error {
		if l := e.links[peer]; l != nil {
			info, ok = l.info(), true
		}
		return nil
	})
	return info, ok, err
}

func (l *link) info() LinkInfo {
	i := LinkInfo{Peer: l.peer, Bound: l.bound, Pending: l.pend != nil}
	if l.key != nil {
		i.OwnKID = l.key.Public().KID()
	}
	if l.lostKID != nil {
		k := *l.lostKID
		i.LostKID = &k
	}
	if l.bound {
		i.BindingID = append([]byte(nil), l.bindingID...)
		i.PeerKID = l.partnerKey.KID()
	}
	if p := l.pair; p != nil {
		i.Paired, i.PairingID, i.Context, i.PairKID = true, append([]byte(nil), p.id...), p.context, p.keys.KID
		i.Synced, i.Completed = p.synced, p.completed
	}
	return i
}
