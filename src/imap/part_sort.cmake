# SORT and THREAD (RFC 5256, RFC 5957): criteria parsing, message keys,
# ordering and thread building; pure, no store.
sp_module(sp_imap_sort SOURCES imap_sort.c imap_thread.c LINK sp_imap_parser sp_mime sp_lib)
sp_unit_test(imap_test_imap_sort test_imap_sort.c LINK sp_imap_sort)
sp_fuzz_target(fuzz_imap_sort fuzz_imap_sort.c LINK sp_imap_sort)
