package awsproto

import (
	"encoding/base64"
	jsonv1 "encoding/json"
	"strconv"
	"time"
)

// Hand-written encoders for the outputs of the operations clients call in
// volume (Encrypt, Decrypt, GenerateDataKey, Sign, GenerateMac,
// DescribeKey). encoding/json walks an output by reflection on every
// response — for DescribeKey's KeyMetadata a tenth of the request's CPU —
// while these append the same bytes directly. "The same bytes" is the
// contract: each writes exactly what encoding/json writes for its type
// (member order, omitempty, null for nil slices and pointers, base64 for
// blobs, HTML-safe string escaping), and TestAppendersMatchEncodingJSON
// holds them to it, with every member of every type filled by reflection
// so that a member added to a type without its encoder fails the test.
//
// Sensitive members are nil when these run (takeSecrets has taken them
// out, and Encode writes them itself), so they encode as omitempty
// members that are absent.

// appender is an output that writes its own JSON.
type appender interface {
	appendJSON(b []byte) []byte
}

var (
	_ appender = (*EncryptOutput)(nil)
	_ appender = (*DecryptOutput)(nil)
	_ appender = (*GenerateDataKeyOutput)(nil)
	_ appender = (*SignOutput)(nil)
	_ appender = (*GenerateMacOutput)(nil)
	_ appender = (*KeyMetadataOutput)(nil)
)

func (o *EncryptOutput) appendJSON(b []byte) []byte {
	b = appendBlobMember(b, '{', "CiphertextBlob", o.CiphertextBlob)
	b = appendStringMember(b, ',', "KeyId", o.KeyId)
	b = appendStringMember(b, ',', "EncryptionAlgorithm", o.EncryptionAlgorithm)
	return append(b, '}')
}

func (o *DecryptOutput) appendJSON(b []byte) []byte {
	b = appendStringMember(b, '{', "KeyId", o.KeyId)
	if len(o.Plaintext) > 0 {
		b = appendBlobMember(b, ',', "Plaintext", o.Plaintext)
	}
	b = appendStringMember(b, ',', "EncryptionAlgorithm", o.EncryptionAlgorithm)
	if o.KeyMaterialId != "" {
		b = appendStringMember(b, ',', "KeyMaterialId", o.KeyMaterialId)
	}
	return append(b, '}')
}

func (o *GenerateDataKeyOutput) appendJSON(b []byte) []byte {
	b = appendBlobMember(b, '{', "CiphertextBlob", o.CiphertextBlob)
	if len(o.Plaintext) > 0 {
		b = appendBlobMember(b, ',', "Plaintext", o.Plaintext)
	}
	b = appendStringMember(b, ',', "KeyId", o.KeyId)
	if o.KeyMaterialId != "" {
		b = appendStringMember(b, ',', "KeyMaterialId", o.KeyMaterialId)
	}
	return append(b, '}')
}

func (o *SignOutput) appendJSON(b []byte) []byte {
	b = appendStringMember(b, '{', "KeyId", o.KeyId)
	b = appendBlobMember(b, ',', "Signature", o.Signature)
	b = appendStringMember(b, ',', "SigningAlgorithm", o.SigningAlgorithm)
	return append(b, '}')
}

func (o *GenerateMacOutput) appendJSON(b []byte) []byte {
	b = appendBlobMember(b, '{', "Mac", o.Mac)
	b = appendStringMember(b, ',', "MacAlgorithm", o.MacAlgorithm)
	b = appendStringMember(b, ',', "KeyId", o.KeyId)
	return append(b, '}')
}

func (o *KeyMetadataOutput) appendJSON(b []byte) []byte {
	b = append(b, `{"KeyMetadata":`...)
	if o.KeyMetadata == nil {
		b = append(b, "null"...)
	} else {
		b = o.KeyMetadata.appendJSON(b)
	}
	return append(b, '}')
}

func (m *KeyMetadata) appendJSON(b []byte) []byte {
	b = appendStringMember(b, '{', "AWSAccountId", m.AWSAccountId)
	b = appendStringMember(b, ',', "KeyId", m.KeyId)
	b = appendStringMember(b, ',', "Arn", m.Arn)
	b = appendTimeMember(b, "CreationDate", m.CreationDate)
	b = appendBoolMember(b, "Enabled", m.Enabled)
	b = appendStringMember(b, ',', "Description", m.Description)
	b = appendStringMember(b, ',', "KeyUsage", m.KeyUsage)
	b = appendStringMember(b, ',', "KeyState", m.KeyState)
	b = appendTimeMember(b, "DeletionDate", m.DeletionDate)
	b = appendStringMember(b, ',', "Origin", m.Origin)
	b = appendStringMember(b, ',', "KeyManager", m.KeyManager)
	b = appendStringMember(b, ',', "CustomerMasterKeySpec", m.CustomerMasterKeySpec)
	b = appendStringMember(b, ',', "KeySpec", m.KeySpec)
	b = appendStringsMember(b, "EncryptionAlgorithms", m.EncryptionAlgorithms)
	b = appendStringsMember(b, "SigningAlgorithms", m.SigningAlgorithms)
	b = appendStringsMember(b, "MacAlgorithms", m.MacAlgorithms)
	b = appendStringsMember(b, "KeyAgreementAlgorithms", m.KeyAgreementAlgorithms)
	b = appendStringsMember(b, "EncapsulationAlgorithms", m.EncapsulationAlgorithms)
	b = appendBoolMember(b, "MultiRegion", m.MultiRegion)
	if m.PendingDeletionWindowInDays != nil {
		b = append(b, `,"PendingDeletionWindowInDays":`...)
		b = strconv.AppendInt(b, int64(*m.PendingDeletionWindowInDays), 10)
	}
	if m.CurrentKeyMaterialId != "" {
		b = appendStringMember(b, ',', "CurrentKeyMaterialId", m.CurrentKeyMaterialId)
	}
	if c := m.MultiRegionConfiguration; c != nil {
		b = append(b, `,"MultiRegionConfiguration":`...)
		b = appendStringMember(b, '{', "MultiRegionKeyType", c.MultiRegionKeyType)
		b = append(b, `,"PrimaryKey":`...)
		if c.PrimaryKey == nil {
			b = append(b, "null"...)
		} else {
			b = c.PrimaryKey.appendJSON(b)
		}
		b = append(b, `,"ReplicaKeys":`...)
		if c.ReplicaKeys == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range c.ReplicaKeys {
				if i > 0 {
					b = append(b, ',')
				}
				b = c.ReplicaKeys[i].appendJSON(b)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if m.ExpirationModel != "" {
		b = appendStringMember(b, ',', "ExpirationModel", m.ExpirationModel)
	}
	b = appendTimeMember(b, "ValidTo", m.ValidTo)
	return append(b, '}')
}

func (k *MultiRegionKey) appendJSON(b []byte) []byte {
	b = appendStringMember(b, '{', "Arn", k.Arn)
	b = appendStringMember(b, ',', "Region", k.Region)
	return append(b, '}')
}

// appendStringMember appends sep, the quoted name (a Go identifier, which
// needs no escaping), a colon and s as encoding/json writes it.
func appendStringMember(b []byte, sep byte, name, s string) []byte {
	b = append(b, sep, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, s)
}

// appendBlobMember appends a []byte member as encoding/json writes one:
// standard base64 with padding, or null for a nil slice.
func appendBlobMember(b []byte, sep byte, name string, v []byte) []byte {
	b = append(b, sep, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

func appendBoolMember(b []byte, name string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

// appendTimeMember appends an omitempty *Timestamp member.
func appendTimeMember(b []byte, name string, t *Timestamp) []byte {
	if t == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return t.appendJSON(b)
}

// appendStringsMember appends an omitempty []string member.
func appendStringsMember(b []byte, name string, v []string) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s quoted as encoding/json quotes it. Strings of
// printable ASCII that encoding/json leaves alone (every ARN, id and
// algorithm name Trent writes) are copied; anything else — control
// characters, quotes, <, >, &, non-ASCII, invalid UTF-8 — goes through
// encoding/json itself, so its escaping rules are never restated here.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := jsonv1.Marshal(s)
			if err != nil { // cannot happen for a string
				return append(b, `""`...)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSON appends what MarshalJSON returns.
func (t Timestamp) appendJSON(b []byte) []byte {
	return strconv.AppendFloat(b, float64(time.Time(t).UnixMilli())/1000, 'f', -1, 64)
}
