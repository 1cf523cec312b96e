# LIST, LSUB and STATUS arguments and responses, mailbox name conversions.
sp_module(sp_imap_list SOURCES imap_list.c LINK sp_imap_parser sp_lib)
sp_unit_test(imap_test_imap_list test_imap_list.c LINK sp_imap_list)
sp_fuzz_target(fuzz_imap_list fuzz_imap_list.c LINK sp_imap_list)
