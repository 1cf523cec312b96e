# FETCH items, flag lists and date-time: the pure layer between the IMAP
# command handlers and the store's FETCH types (sp_imap_fetch).
sp_module(sp_imap_fetch
	SOURCES imap_fetch.c imap_flags.c imap_date.c
	LINK sp_imap_parser sp_lib)
sp_unit_test(imap_test_imap_fetch test_imap_fetch.c LINK sp_imap_fetch)
sp_fuzz_target(fuzz_imap_fetch fuzz_imap_fetch.c LINK sp_imap_fetch)
