/* sealpost: parse global options and dispatch to a command. */
#include "lib/sp_log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sealpost: no command yet\n");
	return 2;
}
