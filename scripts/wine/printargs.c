/* Prints each argument it was given on a line of its own, in brackets, as
 * the Microsoft C runtime split its command line: what a Windows program
 * sees. A test helper for kvenv.exe under Wine (scripts/cross.sh). */
#include <stdio.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        printf("[%s]\n", argv[i]);
    return 0;
}
