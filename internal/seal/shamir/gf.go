package shamir

// Arithmetic in GF(2^8) with the AES reduction polynomial
// x^8 + x^4 + x^3 + x + 1 (0x11b), as FIPS 197 §4 defines it. Addition and
// subtraction are XOR.
//
// Why table-free: the usual log/exp tables index memory with the secret
// bytes being multiplied, so which cache lines a Split or Combine touches
// depends on the secret — a classic cache-timing leak (the same one that
// made table-based AES software leak its key). Here mul runs the same
// eight steps with the same instructions whatever its operands, using
// masks instead of branches, and inv is a fixed chain of multiplications.
// The cost is irrelevant: splitting a 32-byte key into 255 shares of a
// 255-threshold is about two million multiplications, a few milliseconds.
//
// Branches and loop bounds in this package depend only on public values:
// lengths, the threshold and the shares' x coordinates.

// mul returns a·b in GF(2^8), in constant time.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		// Add a when b's low bit is set: -(b&1) is 0xff or 0x00.
		p ^= a & -(b & 1)
		// a·x, reduced by the polynomial when a bit leaves the byte:
		// -(a>>7) is 0xff exactly when the high bit is set.
		a = a<<1 ^ 0x1b&-(a>>7)
		b >>= 1
	}
	return p
}

// inv returns the multiplicative inverse of a (and 0 for 0), in constant
// time: a^254, since a^255 = 1 for every a ≠ 0. The chain squares seven
// times and multiplies each square in: a^(2+4+…+128) = a^254.
func inv(a byte) byte {
	r, s := byte(1), a
	for range 7 {
		s = mul(s, s)
		r = mul(r, s)
	}
	return r
}
