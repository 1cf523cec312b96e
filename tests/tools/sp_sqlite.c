/* sp-sqlite FILE SQL: runs SQL against FILE with SQLite3MultipleCiphers and
 * prints each result row as tab-separated text. Tests use it as "any
 * SQLite3MC tool" would be used: the key is given in SQL, e.g.
 *   PRAGMA cipher='chacha20'; PRAGMA key='raw:<64 hex>'; SELECT ...
 * Exit 0 on success, 1 with the SQLite error on stderr. */
#include <sqlite3.h>
#include <stdio.h>

static int print_row(void *ctx, int n, char **values, char **names)
{
	(void)ctx;
	(void)names;
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "\t" : "", values[i] ? values[i] : "NULL");
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sp-sqlite FILE SQL\n");
		return 2;
	}
	sqlite3 *db;
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "sp-sqlite: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	char *err = NULL;
	if (sqlite3_exec(db, argv[2], print_row, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sp-sqlite: %s\n", err ? err : "error");
		sqlite3_free(err);
		sqlite3_close(db);
		return 1;
	}
	sqlite3_close(db);
	return 0;
}
