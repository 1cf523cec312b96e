/* Shared between smtp_parser.c (framing, content streaming) and
 * smtp_command.c (command grammar); not for other modules. */
#ifndef SMTP_PARSER_PRIVATE_H
#define SMTP_PARSER_PRIVATE_H

#include "smtp/smtp_parser.h"

/* Fills *err for kind: the code and enhanced code the kind implies, and
 * text, or the kind's default text when text is NULL. */
void smtp_error_set(struct smtp_error *err, enum smtp_error_kind kind, enum smtp_verb verb,
                    const char *text);

/* Parses one complete command line (CRLF removed, no NUL, no CR, no LF)
 * into ev: SMTP_EVENT_COMMAND or SMTP_EVENT_ERROR. Decoded values go to
 * scratch, which the caller has emptied and sized to at least len. */
void smtp_command_parse(enum smtp_mode mode, const uint8_t *line, size_t len,
                        struct smtp_scratch *scratch, struct smtp_event *ev);

#endif
