#include "core/b64.h"

static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t mdt_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, o = 0;

    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = url_alpha[v >> 18];
        out[o++] = url_alpha[(v >> 12) & 63];
        out[o++] = url_alpha[(v >> 6) & 63];
        out[o++] = url_alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = url_alpha[v >> 18];
        out[o++] = url_alpha[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = url_alpha[v >> 18];
        out[o++] = url_alpha[(v >> 12) & 63];
        out[o++] = url_alpha[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static int val(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static mdt_rc decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen,
                     int url)
{
    size_t i = 0, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (!url) {
        if (n % 4)
            return MDT_ERR_INVALID_REQUEST;
        if (n && in[n - 1] == '=')
            n--;
        if (n && in[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return MDT_ERR_INVALID_REQUEST;
    if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > outcap)
        return MDT_ERR_TOO_LARGE;
    for (; i < n; i++) {
        int v = val((unsigned char)in[i], url);
        if (v < 0)
            return MDT_ERR_INVALID_REQUEST;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* leftover bits must be zero: one encoding per value */
        return MDT_ERR_INVALID_REQUEST;
    *outlen = o;
    return MDT_OK;
}

mdt_rc mdt_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen)
{
    return decode(in, n, out, outcap, outlen, 1);
}

mdt_rc mdt_b64_decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen)
{
    return decode(in, n, out, outcap, outlen, 0);
}

void mdt_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int mdt_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
