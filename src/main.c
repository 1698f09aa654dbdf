/* main.c -- the tollgate binary: only the commands table and wiring (src/cli). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
