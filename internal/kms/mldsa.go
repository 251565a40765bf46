package kms

import "github.com/trent-kms/trent/internal/apierr"

const messageTypeExternalMu = "EXTERNAL_MU"

// errExternalMu answers a well-formed EXTERNAL_MU request (an ML-DSA key,
// a 64-byte μ), which AWS serves and Trent cannot: circl computes μ inside
// its signing and verifying functions and exports no way to start from a
// given μ, and Go's crypto/mldsa (Go 1.27) signs a μ but does not verify
// one. UnsupportedOperationException, like every other "AWS does this,
// Trent does not", so a client does not take its request for invalid.
var errExternalMu = apierr.New(apierr.UnsupportedOperation,
	"Trent does not support MessageType EXTERNAL_MU yet: its ML-DSA implementation cannot sign or verify a given mu. Send the message with MessageType RAW.")

// checkExternalMu refuses EXTERNAL_MU once checkMessage has found the
// request well-formed.
func checkExternalMu(messageType string) error {
	if messageType == messageTypeExternalMu {
		return errExternalMu
	}
	return nil
}
