/* A test helper for kvenv.exe under Wine (scripts/wine-test.sh):
 *   printargs.exe ARG...      prints each argument it was given on a line of
 *                             its own, in brackets, as the Microsoft C
 *                             runtime split its command line;
 *   printargs.exe --sleep N   waits N seconds (a long-running command). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--sleep") == 0) {
        Sleep((DWORD)atoi(argv[2]) * 1000);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        printf("[%s]\n", argv[i]);
    return 0;
}
