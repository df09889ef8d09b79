package session

// Stats are an engine's counters.
type Stats struct {
	RxMessages     uint64           // messages reassembled and handled
	TxMessages     uint64           // messages handed to ISO-TP (or sent as single frames)
	Rejected       map[Cause]uint64 // rejected input by cause
	Escalations    uint64           // escalation requests sent
	EscalationsCut uint64           // escalation requests suppressed by the rate limit
	EventsDropped  uint64           // events lost because nobody read Events
	Commands       uint64           // commands verified
	Acks           uint64           // ACKs verified
	Telemetry      uint64           // telemetry records verified (AEAD, clear and short)
	Pairings       uint64           // pairings established
	Timeouts       uint64           // partial pairings timed out
	Retransmits    uint64           // handshake messages sent again for a certificate delivered again
	Duplicates     uint64           // handshake messages received again (key halves, completions) and ignored
}

func (s *Stats) clone() Stats {
	c := *s
	c.Rejected = make(map[Cause]uint64, len(s.Rejected))
	for k, v := range s.Rejected {
		c.Rejected[k] = v
	}
	return c
}
