/* libFuzzer entry point shared by every target. Built with clang and
 * -fsanitize=fuzzer by `make fuzz`; replayed over fuzz/corpus/<target>/ by
 * replay.c with gcc in `make check`. */
#ifndef MDT_FUZZ_H
#define MDT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
