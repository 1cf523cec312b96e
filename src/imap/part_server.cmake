# The IMAP server: sessions, the command table and handlers.
sp_module(sp_imap
	SOURCES imap_session.c imap_server.c imap_select.c imap_cmd_any.c imap_cmd_auth.c
		imap_cmd_mailbox.c imap_cmd_list.c imap_cmd_append.c imap_cmd_fetch.c
		imap_cmd_copy.c imap_cmd_search.c
	LINK sp_imap_fetch sp_imap_list sp_imap_search_query sp_imap_sort sp_imap_parser
		sp_store_drain sp_store sp_auth sp_accounts sp_spool sp_notify sp_net sp_lib)
