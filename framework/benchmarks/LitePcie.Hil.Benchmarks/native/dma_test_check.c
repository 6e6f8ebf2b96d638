/*
 * The per-word check loop of litepcie_util's dma_test (docs/linux-driver.md#dma_test), written the way that tool
 * does it: one 32-bit word at a time, the pattern value computed from a seed that advances per word modulo
 * the words of an 8 KiB buffer, both sides masked, mismatches counted. Built with gcc -O2 as the C baseline
 * of the pattern benchmarks (our own code, same algorithm).
 */
#include <stdint.h>
#include <stddef.h>

#define WORDS_PER_BUFFER (8192u / 4u)

static inline uint32_t next_pattern(uint32_t *seed)
{
    uint32_t value = *seed * 69069u + 1u;
    *seed = (*seed + 1u) % WORDS_PER_BUFFER;
    return value;
}

/* Counts mismatching 32-bit words of one buffer against the pattern starting at seed. */
static long check_buffer(const uint32_t *words, size_t count, uint32_t seed, uint32_t mask)
{
    long errors = 0;
    for (size_t i = 0; i < count; i++) {
        if ((words[i] & mask) != (next_pattern(&seed) & mask))
            errors++;
    }
    return errors;
}

/* Checks every buffer of a ring; returns the total of mismatching words. */
long lpc_dma_test_check_ring(const uint8_t *ring, long buffers, long buffer_size, uint32_t mask)
{
    long errors = 0;
    for (long b = 0; b < buffers; b++)
        errors += check_buffer((const uint32_t *)(ring + b * buffer_size), (size_t)buffer_size / 4u, 0, mask);
    return errors;
}
