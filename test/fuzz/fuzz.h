/*
 * Shared by the libFuzzer targets in test/fuzz/ (make fuzz).  Each target
 * feeds one parser that sees outside bytes; a crash, a sanitizer report,
 * a leak or a hang is a finding.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * A regular file (one link, like a spool or config file) holding exactly
 * these bytes, rewound; the same file is reused for every input.  Its
 * path is returned through *path when path is not NULL.
 */
int	fuzz_file(const uint8_t *, size_t, const char **);

#endif /* FUZZ_H */
