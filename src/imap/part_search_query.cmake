# SEARCH: the parser's AST to a store query, and SEARCH/ESEARCH responses.
sp_module(sp_imap_search_query SOURCES imap_search_query.c LINK sp_imap_parser sp_lib)
sp_unit_test(imap_test_imap_search_query test_imap_search_query.c LINK sp_imap_search_query)
# The SEARCH parser's fuzz target drives the translation and replies too.
sp_fuzz_target(fuzz_imap_search fuzz_imap_search.c LINK sp_imap_search_query)
