/* Doubles from integers and back to decimal text, without floating-point
 * instructions (f64.h). */
#include "guest/f64.h"
#include "guest/fmt.h"

#define MANT_BITS 52
#define EXP_BIAS  1023
#define MANT_MASK ((1ul << MANT_BITS) - 1)

/* v * 2^e2 as a double (v != 0, no overflow or underflow in practice). */
static uint64_t make(uint64_t v, int e2)
{
	int msb = 63 - __builtin_clzll(v);
	int64_t exp = msb + EXP_BIAS + e2;
	uint64_t mant;

	if (msb <= MANT_BITS) {
		mant = v << (MANT_BITS - msb);
	} else {
		int shift = msb - MANT_BITS;
		uint64_t rem = v & ((1ull << shift) - 1), half = 1ull << (shift - 1);
		mant = v >> shift;
		if (rem > half || (rem == half && (mant & 1)))
			mant++;
		if (mant >> (MANT_BITS + 1)) {
			mant >>= 1;
			exp++;
		}
	}
	if (exp <= 0)
		return 0;
	if (exp >= 0x7ff)
		return 0x7ffull << MANT_BITS;
	return ((uint64_t)exp << MANT_BITS) | (mant & MANT_MASK);
}

uint64_t f64_from_u64(uint64_t v)
{
	return v ? make(v, 0) : 0;
}

uint64_t f64_from_ratio(uint64_t num, uint64_t den)
{
	uint64_t q, r;
	int e2 = 0;

	if (!den || !num)
		return 0;
	q = num / den;
	r = num % den;
	/* Long division, one bit at a time, until the quotient has 64 significant bits
	 * (the last bit also stands in for any remainder left: enough for rounding). */
	while (!(q >> 63)) {
		int bit = r >= den - r;          /* 2r >= den, without overflow */
		r = bit ? r - (den - r) : 2 * r;
		q = 2 * q + (uint64_t)bit;
		e2--;
	}
	if (r)
		q |= 1;
	return make(q, e2);
}

int f64_format(char *buf, size_t size, uint64_t bits)
{
	int neg = (int)(bits >> 63);
	int exp = (int)((bits >> MANT_BITS) & 0x7ff);
	uint64_t mant = bits & MANT_MASK;
	const char *sign = neg ? "-" : "";

	if (exp == 0x7ff)
		return fmt_snprintf(buf, size, "%s", mant ? "nan" : (neg ? "-inf" : "inf"));
	if (exp == 0 && mant == 0)
		return fmt_snprintf(buf, size, "%s0", sign);
	if (exp)
		mant |= 1ull << MANT_BITS;
	else
		exp = 1;
	int e2 = exp - EXP_BIAS - MANT_BITS;   /* value = mant * 2^e2 */
	if (e2 >= 0) {
		/* 2^64 and beyond: C99 hexadecimal notation, exact. */
		if (e2 > 11)
			return fmt_snprintf(buf, size, "%s0x1.%013lxp+%d", sign, mant & MANT_MASK,
					    exp - EXP_BIAS);
		return fmt_snprintf(buf, size, "%s%lu", sign, mant << e2);
	}
	int k = -e2;
	if (k > 120)
		return fmt_snprintf(buf, size, "%s0.000000", sign);
	unsigned __int128 m = mant;
	uint64_t ip = k >= 64 ? 0 : (uint64_t)(m >> k);
	unsigned __int128 frac = m & ((((unsigned __int128)1) << k) - 1);
	if (!frac)
		return fmt_snprintf(buf, size, "%s%lu", sign, ip);
	uint64_t f6 = (uint64_t)((frac * 1000000 + (((unsigned __int128)1) << (k - 1))) >> k);
	if (f6 >= 1000000) {
		ip++;
		f6 -= 1000000;
	}
	return fmt_snprintf(buf, size, "%s%lu.%06lu", sign, ip, f6);
}
