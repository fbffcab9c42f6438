/* dnsbox C shim: the Unicode data the Embedded Swift standard library asks
 * for, without its tables (libswiftUnicodeDataTables, 37 KB of the firmware).
 * Compiled into the firmware only (DX_UNICODE_STUBS); the host build keeps
 * the real tables.
 *
 * What the firmware's String then does: compares and hashes by Unicode
 * scalars (no canonical equivalence: "é" and "e" + U+0301 differ), and a
 * Character is one scalar outside ASCII (where CR LF is still one). Nothing
 * in dnsbox relies on more: names, options and API fields are ASCII by
 * their rules, and DNS data is compared as bytes. The answers below are the
 * ones the standard library's own lookups give for a scalar with no data:
 *   normalization data 0: combining class 0, NFC and NFD quick check "yes";
 *   no decomposition (an entry that matches no scalar); no composition
 *   (UINT32_MAX); grapheme break property 0xFF (.any); not an extended
 *   pictographic; not an InCB consonant. */
#ifdef DX_UNICODE_STUBS
#include <stdbool.h>
#include <stdint.h>

uint16_t _swift_stdlib_getNormData(uint32_t scalar) { (void)scalar; return 0; }

static const uint8_t no_decompositions[1] = {0};
const uint8_t *const _swift_stdlib_nfd_decompositions = no_decompositions;

uint32_t _swift_stdlib_getDecompositionEntry(uint32_t scalar) { (void)scalar; return 0; }

uint32_t _swift_stdlib_getComposition(uint32_t x, uint32_t y) { (void)x; (void)y; return UINT32_MAX; }

uint8_t _swift_stdlib_getGraphemeBreakProperty(uint32_t scalar) { (void)scalar; return 0xFF; }

bool _swift_stdlib_isExtendedPictographic(uint32_t scalar) { (void)scalar; return false; }

bool _swift_stdlib_isInCB_Consonant(uint32_t scalar) { (void)scalar; return false; }
#endif
