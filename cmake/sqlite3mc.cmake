# SQLite3MultipleCiphers: the amalgamation shipped in the npm package
# better-sqlite3-multiple-ciphers, fetched by tools/fetch-sqlite3mc.sh at a
# pinned version, verified against a pinned SHA-256 and cached under the
# build directory. Never committed.
set(SP_SQLITE3MC_DIR ${CMAKE_BINARY_DIR}/_deps/sqlite3mc)
if(NOT EXISTS ${SP_SQLITE3MC_DIR}/sqlite3.c)
	execute_process(
		COMMAND bash ${PROJECT_SOURCE_DIR}/tools/fetch-sqlite3mc.sh ${SP_SQLITE3MC_DIR}
		RESULT_VARIABLE fetch_rc)
	if(NOT fetch_rc EQUAL 0)
		message(FATAL_ERROR "fetching SQLite3MultipleCiphers failed (see above)")
	endif()
endif()

add_library(sqlite3mc STATIC EXCLUDE_FROM_ALL ${SP_SQLITE3MC_DIR}/sqlite3.c)
target_include_directories(sqlite3mc SYSTEM PUBLIC ${SP_SQLITE3MC_DIR})
# TEMP_STORE=3: temporary tables and sort spills stay in memory, because
# SQLite3MC does not encrypt temporary files. THREADSAFE=2: a connection is
# used by one thread at a time (the store's worker), so no per-call mutex.
target_compile_definitions(sqlite3mc PUBLIC
	SQLITE_THREADSAFE=2
	SQLITE_TEMP_STORE=3
	SQLITE_ENABLE_FTS5
	SQLITE_DEFAULT_FOREIGN_KEYS=1
	SQLITE_DEFAULT_MEMSTATUS=0
	SQLITE_DQS=0
	SQLITE_OMIT_LOAD_EXTENSION
	SQLITE_OMIT_DEPRECATED
	SQLITE_OMIT_SHARED_CACHE
	SQLITE_LIKE_DOESNT_MATCH_BLOBS
	SQLITE_USE_URI=0
	SQLITE_SECURE_DELETE
	HAVE_USLEEP=1)
target_compile_options(sqlite3mc PRIVATE -O2 -w -fno-sanitize=all)
target_link_libraries(sqlite3mc PUBLIC Threads::Threads m)
set_target_properties(sqlite3mc PROPERTIES POSITION_INDEPENDENT_CODE ON)
