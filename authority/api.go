package authority

import (
	"fmt"
	"sort"
	"strings"

	"github.com/modbatt/hilrun/protocol/message"
)

// JSON bodies of the HTTP API (docs/authority.md). Byte strings are standard base64 with
// padding, except hashes, which are lower-case hex; IDs are canonical UUID text; times are
// RFC 3339 in UTC.

// GenerateKeysRequest is the body of POST /api/binding/generate-keys. PartnerAccessData is the
// upstream shape; AccessData and Role name the entity whose key is generated; BindingID is
// empty on the first side's call and names the pending binding on the second's.
type GenerateKeysRequest struct {
	AccessData        message.AccessData `json:"access_data"`
	Role              string             `json:"role"`
	PartnerAccessData message.AccessData `json:"partner_access_data"`
	BindingID         string             `json:"binding_id,omitempty"`
}

// GenerateKeysResponse is the upstream answer shape: the new semi-public key of the entity named
// in the request (65-byte SEC1, base64) and the binding ID.
type GenerateKeysResponse struct {
	SemiPublicKey string `json:"semi_public_key"`
	BindingID     string `json:"binding_id"`
}

// BindingParty is one side of a binding as GET /api/binding/{id} shows it (no key).
type BindingParty struct {
	EntityID   string             `json:"entity_id"`
	Role       string             `json:"role"`
	AccessData message.AccessData `json:"access_data"`
	KID        string             `json:"kid,omitempty"` // 4 hex digits, once the key is recorded
}

// L7 is an L7 binding validation: the signed statement (COSE_Sign1, base64) and its ledger proof.
type L7 struct {
	BindingValidation string `json:"binding_validation"`
	BlockchainProof   string `json:"blockchain_proof"` // hex ledger entry hash
	LedgerIndex       uint64 `json:"ledger_index"`
}

// BindingInfo is the answer of GET /api/binding/{id}.
type BindingInfo struct {
	BindingID     string          `json:"binding_id"`
	Status        string          `json:"status"` // pending, active, revoked
	Parties       [2]BindingParty `json:"parties"`
	NotBefore     string          `json:"not_before,omitempty"`
	Expires       string          `json:"expires,omitempty"`
	Establishment *L7             `json:"establishment,omitempty"`
	Revocation    *L7             `json:"revocation,omitempty"`
}

// PartnerKeyResponse is the answer of GET /api/binding/{id}/partner-key?entity=E: the partner's
// semi-public key, its access data, and the authority-signed binding record (subject = partner,
// audience = E).
type PartnerKeyResponse struct {
	BindingID          string             `json:"binding_id"`
	Partner            string             `json:"partner"`
	PartnerRole        string             `json:"partner_role"`
	PartnerAccessData  message.AccessData `json:"partner_access_data"`
	SemiPublicKey      string             `json:"semi_public_key"`
	KID                string             `json:"kid"`
	BindingCertificate string             `json:"binding_certificate"`
}

// RevokeBindingRequest is the body of POST /api/binding/{id}/revoke. With reason key_loss,
// Entity names the entity that lost its key: every binding and every pairing of that entity is
// revoked. Otherwise the binding and its pairings are.
type RevokeBindingRequest struct {
	Reason string `json:"reason"`
	Entity string `json:"entity,omitempty"`
}

// RevokeBindingResponse lists what the revocation voided.
type RevokeBindingResponse struct {
	L7
	RevokedBindings     []string `json:"revoked_bindings"`
	InvalidatedPairings []string `json:"invalidated_pairings"`
}

// IssuePairingRequest is the body of POST /api/pairing/issue.
type IssuePairingRequest struct {
	BindingID       string            `json:"binding_id,omitempty"` // optional: must join Entities
	Context         string            `json:"context"`              // battery_management, diagnostics, firmware_update, emergency
	Entities        [2]string         `json:"entities"`             // entity IDs, A then B
	Addrs           []uint8           `json:"addrs,omitempty"`      // CAN node addresses of A and B; default from role and endpoint
	ValiditySeconds int64             `json:"validity_seconds,omitempty"`
	Policy          map[string]string `json:"policy,omitempty"` // class → protection; default per context
}

// IssuePairingResponse carries the certificate (deterministic CBOR, base64).
type IssuePairingResponse struct {
	PairingID         string `json:"pairing_id"`
	BindingID         string `json:"binding_id"`
	Context           string `json:"context"`
	Certificate       string `json:"certificate"`
	MetadataHash      string `json:"metadata_hash"`
	CreatedAt         string `json:"created_at"`
	ExpiresAt         string `json:"expires_at"`
	HandshakeDeadline string `json:"handshake_deadline"`
	BlockchainProof   string `json:"blockchain_proof"`
}

// CompleteRequest is the body of POST /api/pairing/{id}/complete: the message.Completion in
// deterministic CBOR, base64.
type CompleteRequest struct {
	Completion string `json:"completion"`
}

// L6 is an L6 pairing validation: the signed statement (COSE_Sign1, base64) and its ledger proof.
type L6 struct {
	PairingValidation string `json:"pairing_validation"`
	BlockchainProof   string `json:"blockchain_proof"`
	LedgerIndex       uint64 `json:"ledger_index"`
}

// RevokePairingRequest is the body of POST /api/pairing/{id}/revoke.
type RevokePairingRequest struct {
	Reason string `json:"reason"`
}

// ModifyPairingRequest is the body of POST /api/pairing/{id}/modify: a new expiry and/or policy.
type ModifyPairingRequest struct {
	ExpiresAt string            `json:"expires_at,omitempty"`
	Policy    map[string]string `json:"policy,omitempty"`
}

// PairingInfo is the answer of GET /api/pairing/{id}.
type PairingInfo struct {
	PairingID    string    `json:"pairing_id"`
	BindingID    string    `json:"binding_id"`
	Context      string    `json:"context"`
	Status       string    `json:"status"` // issued, completed, revoked, timed_out, expired
	Entities     [2]string `json:"entities"`
	MetadataHash string    `json:"metadata_hash"`
	CreatedAt    string    `json:"created_at"`
	ExpiresAt    string    `json:"expires_at"`
	CompletedAt  string    `json:"completed_at,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

// AuthorityInfo is the answer of GET /api/authority: the key devices trust.
type AuthorityInfo struct {
	Issuer    string `json:"issuer"`
	PublicKey string `json:"public_key"` // 65-byte SEC1, base64
	KID       string `json:"kid"`
}

// LedgerInfo is the answer of GET /api/ledger.
type LedgerInfo struct {
	Length uint64 `json:"length"`
	Head   string `json:"head"` // hex hash of the last entry
}

// Stats is the answer of GET /api/stats.
type Stats struct {
	Requests uint64            `json:"requests"`
	Errors   map[string]uint64 `json:"errors"`
}

// errorBody is the JSON error shape.
type errorBody struct {
	Error struct {
		Code    Code   `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var roleNames = map[string]message.Role{"app": message.RoleApp, "pack": message.RolePack, "module": message.RoleModule}

// ParseRole maps "app", "pack", "module" to the catalogue's roles.
func ParseRole(s string) (message.Role, error) {
	if r, ok := roleNames[s]; ok {
		return r, nil
	}
	return 0, errf(CodeUnknownRole, "role %q, want app, pack or module", s)
}

var contextNames = map[string]message.Context{
	"battery_management": message.ContextBatteryManagement,
	"diagnostics":        message.ContextDiagnostics,
	"firmware_update":    message.ContextFirmwareUpdate,
	"emergency":          message.ContextEmergency,
}

// ParseContext maps a context name to the catalogue's Context.
func ParseContext(s string) (message.Context, error) {
	if c, ok := contextNames[s]; ok {
		return c, nil
	}
	return 0, errf(CodeBadRequest, "context %q, want one of %s", s, names(contextNames))
}

var reasonNames = map[string]message.Reason{
	"mac_failures": message.ReasonMACFailures, "counter_gap": message.ReasonCounterGap,
	"replay": message.ReasonReplay, "temp_step": message.ReasonTempStep,
	"voltage_step": message.ReasonVoltageStep, "bus_errors": message.ReasonBusErrors,
	"key_loss": message.ReasonKeyLoss, "anomaly": message.ReasonAnomaly, "policy": message.ReasonPolicy,
	"clock_skew": message.ReasonClockSkew, "operator": message.ReasonOperator,
}

// ParseReason maps a reason name to the catalogue's Reason.
func ParseReason(s string) (message.Reason, error) {
	if r, ok := reasonNames[s]; ok {
		return r, nil
	}
	return 0, errf(CodeBadRequest, "reason %q, want one of %s", s, names(reasonNames))
}

var classNames = map[string]message.Class{
	"command": message.ClassCommand, "control": message.ClassControl, "status": message.ClassStatus,
	"telemetry": message.ClassTelemetry, "validation": message.ClassValidation,
	"firmware": message.ClassFirmware, "emergency": message.ClassEmergency,
}

var protectionNames = map[string]message.Protection{
	"clear": message.ProtClear, "exchange": message.ProtExchange,
	"pairing": message.ProtPairing, "binding": message.ProtBinding,
}

// ParsePolicy maps {"command": "pairing", ...} to a message.Policy.
func ParsePolicy(m map[string]string) (message.Policy, error) {
	if len(m) == 0 {
		return nil, errf(CodeBadRequest, "empty policy")
	}
	p := message.Policy{}
	for k, v := range m {
		cl, ok := classNames[k]
		if !ok {
			return nil, errf(CodeBadRequest, "policy class %q, want one of %s", k, names(classNames))
		}
		pr, ok := protectionNames[v]
		if !ok {
			return nil, errf(CodeBadRequest, "policy protection %q, want one of %s", v, names(protectionNames))
		}
		p[cl] = pr
	}
	return p, nil
}

// DefaultPolicy is the policy a certificate carries when the request names none: commands,
// control, firmware and emergency under the pairing keys, telemetry under the telemetry key,
// status clear, validation at binding level. Emergency pairings allow only emergency and
// validation traffic; firmware-update pairings add the image transfer.
func DefaultPolicy(c message.Context) message.Policy {
	switch c {
	case message.ContextEmergency:
		return message.Policy{message.ClassEmergency: message.ProtPairing, message.ClassValidation: message.ProtBinding}
	case message.ContextFirmwareUpdate:
		return message.Policy{message.ClassFirmware: message.ProtPairing, message.ClassCommand: message.ProtPairing,
			message.ClassStatus: message.ProtClear, message.ClassValidation: message.ProtBinding}
	}
	return message.Policy{message.ClassCommand: message.ProtPairing, message.ClassControl: message.ProtPairing,
		message.ClassEmergency: message.ProtPairing, message.ClassStatus: message.ProtClear,
		message.ClassTelemetry: message.ProtExchange, message.ClassValidation: message.ProtBinding}
}

func names[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func kidHex(k uint16) string { return fmt.Sprintf("%04x", k) }
