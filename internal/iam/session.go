package iam

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/jsonstrict"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/seal"
)

// Session tokens. Temporary credentials are stateless: the session token
// is the whole session — its access key id and secret, whose principal it
// is, when it expires, its session policies and tags — serialised, wrapped
// by the root key and base64-encoded. Nothing of a session is stored, so
// any node holding the root key verifies a token without a store read
// (beyond checking that its role or user still exists), and a session
// cannot be revoked except by deleting its role or user, or by expiry.
//
// Format, version 1:
//
//	base64(0x01 ‖ seal.RootKey.Wrap(JSON of session, AAD "trent/session-token/v1"))
//
// The root key's wrap authenticates everything: a token whose bytes were
// changed, that another installation's root key wrapped, or that was cut
// short does not unwrap. The access key id inside must equal the one the
// request was signed with, so a token cannot lend itself to another key.

const (
	tokenFormat1 = 0x01
	tokenAAD     = "trent/session-token/v1"

	// maxSessionPayload bounds a session's serialised form: AssumeRole
	// refuses a session whose JSON exceeds it (PackedPolicyTooLarge), so
	// every token Trent issues fits in maxSessionTokenLength.
	maxSessionPayload = 12000
	// maxSessionTokenLength is the longest token accepted: the base64 of
	// the largest payload, wrapped. A longer one is refused before it is
	// decoded.
	maxSessionTokenLength = (1+maxSessionPayload+seal.WrapOverhead+2)/3*4 + 4
)

// session is a token's content. Times are Unix seconds.
type session struct {
	AccessKeyID string `json:"k"`
	Secret      string `json:"s"`
	Account     string `json:"a"`
	// Type is the principal type of the caller the credentials act as:
	// policy.PrincipalAssumedRole for AssumeRole, PrincipalIAMUser or
	// PrincipalRoot for GetSessionToken.
	Type     string `json:"t"`
	UserName string `json:"u,omitempty"`
	UserID   string `json:"ui,omitempty"`
	RoleARN  string `json:"r,omitempty"`
	RoleID   string `json:"ri,omitempty"`
	// Name is the RoleSessionName.
	Name           string      `json:"n,omitempty"`
	Issued         int64       `json:"i"`
	Expires        int64       `json:"e"`
	Policy         string      `json:"p,omitempty"`
	PolicyARNs     []string    `json:"pa,omitempty"`
	Tags           [][2]string `json:"tg,omitempty"`
	Transitive     []string    `json:"tt,omitempty"`
	SourceIdentity string      `json:"si,omitempty"`
}

func (s *session) issued() time.Time  { return time.Unix(s.Issued, 0).UTC() }
func (s *session) expires() time.Time { return time.Unix(s.Expires, 0).UTC() }

var errTokenTooLarge = errors.New("session too large for a token")

// sealSession serialises and wraps a session into a token.
func sealSession(root *seal.RootKey, s *session) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // '<' stays one byte: the payload bound is in bytes
	if err := enc.Encode(s); err != nil {
		return "", fmt.Errorf("iam: encode session: %w", err)
	}
	payload := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(payload) > maxSessionPayload {
		return "", errTokenTooLarge
	}
	wrapped, err := root.Wrap(payload, []byte(tokenAAD))
	if err != nil {
		return "", fmt.Errorf("iam: wrap session: %w", err)
	}
	return base64.StdEncoding.EncodeToString(append([]byte{tokenFormat1}, wrapped...)), nil
}

// openSessionToken parses and authenticates a token. Its errors say what
// is wrong for the log; callers answer every one of them alike.
func openSessionToken(root *seal.RootKey, token string) (*session, error) {
	if len(token) == 0 || len(token) > maxSessionTokenLength {
		return nil, fmt.Errorf("token of %d characters", len(token))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(token)
	if err != nil {
		return nil, errors.New("token is not base64")
	}
	if len(raw) == 0 {
		// The decoder skips '\r' and '\n', so a token of only those
		// decodes, without error, to nothing.
		return nil, errors.New("token decodes to no bytes")
	}
	if raw[0] != tokenFormat1 {
		return nil, fmt.Errorf("unknown token format 0x%02x", raw[0])
	}
	payload, err := root.Unwrap(raw[1:], []byte(tokenAAD))
	if err != nil {
		return nil, err
	}
	var s session
	if err := jsonstrict.Decode(payload, &s); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// check refuses a session that Trent would not have issued. The token is
// authenticated, so this guards against Trent's own mistakes (and a token
// format of a future version misread), not against forgery.
func (s *session) check() error {
	switch {
	case len(s.AccessKeyID) != accessKeyLength || s.AccessKeyID[:4] != prefixTemporary:
		return errors.New("session access key id is not a temporary one")
	case s.Secret == "" || !ids.IsAccountID(s.Account):
		return errors.New("session has no secret or account")
	case s.Expires <= s.Issued:
		return errors.New("session expires before it is issued")
	}
	switch s.Type {
	case policy.PrincipalRoot:
	case policy.PrincipalIAMUser:
		if s.UserName == "" || s.UserID == "" {
			return errors.New("user session without a user")
		}
	case policy.PrincipalAssumedRole:
		if s.RoleARN == "" || s.RoleID == "" || s.Name == "" {
			return errors.New("role session without a role or name")
		}
	default:
		return fmt.Errorf("session of principal type %q", s.Type)
	}
	return nil
}
