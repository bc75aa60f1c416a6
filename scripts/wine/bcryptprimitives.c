/* ProcessPrng for Wine versions that lack it (Wine 8): Rust's standard
 * library imports it from bcryptprimitives.dll on Windows 10 and later.
 * Forwarded to RtlGenRandom (advapi32's SystemFunction036), which Wine has.
 * Built with mingw-w64 and placed beside kvenv.exe by scripts/cross.sh;
 * never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
