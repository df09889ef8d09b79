package authority

import (
	"bytes"
	"encoding/base64"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// ProofHeader carries a request proof: a COSE_Sign1 (base64) by the requesting entity's binding
// key over {0: 1, 1: op, 2: subject ID, 3: entity, 4: time}, with external AAD
// "web4/v1/authority-request". It proves the caller holds the party's private key.
const ProofHeader = "Web4-Proof"

// OpPartnerKey is the op a partner-key request proof names.
const OpPartnerKey = "partner-key"

const domainRequest = "web4/v1/authority-request"

type requestProof struct {
	V       uint8  `cbor:"0,keyasint"`
	Op      string `cbor:"1,keyasint"`
	Subject []byte `cbor:"2,keyasint"`
	Entity  string `cbor:"3,keyasint"`
	At      int64  `cbor:"4,keyasint"`
}

// SignRequest makes the ProofHeader value for a request by entity about subject (a binding ID),
// signed with the entity's binding key for that subject.
func SignRequest(k *suite.PrivateKey, op string, subject []byte, entity string, at time.Time) (string, error) {
	payload, err := ledgerEnc.Marshal(requestProof{V: 1, Op: op, Subject: subject, Entity: entity, At: at.Unix()})
	if err != nil {
		return "", err
	}
	msg, err := suite.Sign1(k, payload, []byte(domainRequest), nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(msg), nil
}

// verifyRequest checks a ProofHeader value against the party's key and the request.
func verifyRequest(header string, key *suite.PublicKey, op string, subject []byte, entity string, now time.Time) error {
	msg, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return errf(CodeBadProof, "%s: base64: %v", ProofHeader, err)
	}
	payload, err := suite.Verify1(key, msg, []byte(domainRequest))
	if err != nil {
		return errf(CodeBadProof, "%s: %v", ProofHeader, err)
	}
	var p requestProof
	if err := ledgerDec.Unmarshal(payload, &p); err != nil {
		return errf(CodeBadProof, "%s: payload: %v", ProofHeader, err)
	}
	if re, err := ledgerEnc.Marshal(p); err != nil || !bytes.Equal(re, payload) {
		return errf(CodeBadProof, "%s: payload is not the deterministic encoding", ProofHeader)
	}
	switch {
	case p.V != 1 || p.Op != op || !bytes.Equal(p.Subject, subject) || p.Entity != entity:
		return errf(CodeBadProof, "%s is for %s %s by %q, not %s %s by %q", ProofHeader, p.Op,
			message.FormatUUID(p.Subject), p.Entity, op, message.FormatUUID(subject), entity)
	}
	if err := message.CheckFreshness(now, p.At); err != nil {
		return errf(CodeClockSkew, "%s: %v", ProofHeader, err)
	}
	return nil
}

// proofFor checks the proof of a request by party i of b, as the options demand.
func (a *Authority) proofFor(b *bindingRecord, i int, op, header string) error {
	if header == "" {
		if a.opt.RequireProof {
			return errf(CodeProofMissing, "%s requires a %s header signed by %s", op, ProofHeader, b.Parties[i].Access.DeviceID)
		}
		return nil
	}
	key, err := suite.ParsePublicKey(b.Parties[i].Key)
	if err != nil {
		return internal("stored key", err)
	}
	return verifyRequest(header, key, op, b.ID, b.Parties[i].Access.DeviceID, a.now())
}
